"""A positive signal that the operator has processed an event, read from its ``/metrics``.

To show that something does *not* happen (no write, no new Job), a test makes the operator handle an
event (e.g. a metadata-only "poke" of the object, which every controller's own watch enqueues) and
then waits until the controller has reconciled since and has nothing queued or running — instead of
sleeping for a guessed while. Per controller, not per key: a reconcile of another object counts too,
so tests poke and wait on a quiet operator (the e2e tests run one at a time).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.support.wait import wait_for


def controller_work(metrics_text: str, controller: str) -> dict[str, float]:
    """``controller``'s reconciles so far (``total``) and its work now (keys ``queued``, workers ``active``)."""
    out = {"total": 0.0, "queued": 0.0, "active": 0.0}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if family.name == "controller_runtime_reconcile" and sample.name.endswith("_total"):
                out["total"] += sample.value if sample.labels.get("controller") == controller else 0.0
            elif family.name == "workqueue_depth" and sample.labels.get("name") == controller:
                out["queued"] = sample.value
            elif family.name == "controller_runtime_active_workers" and sample.labels.get("controller") == controller:
                out["active"] = sample.value
    return out


async def wait_idle(metrics: Callable[[], str], controller: str, *, after: float = -1.0, timeout: float = 30) -> float:  # noqa: ASYNC109
    """Wait until ``controller`` has made more than ``after`` reconciles and nothing is queued or running;
    returns its reconcile total then."""
    work = await wait_for(
        lambda: controller_work(metrics(), controller),
        lambda w: w["total"] > after and w["queued"] == 0 and w["active"] == 0,
        timeout=timeout,
        what=f"{controller} to reconcile (more than {after:g} in total) and go idle",
    )
    return work["total"]
