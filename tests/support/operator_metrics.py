"""A positive signal that the operator has processed an event, read from its ``/metrics``.

To show that something does *not* happen (no write, no new Job), a test makes the operator handle an
event (e.g. a metadata-only "poke" of the object, which every controller's own watch enqueues) and
then waits until the controller has reconciled since and has nothing queued or running — instead of
sleeping for a guessed while. Per controller, not per key: a reconcile of another object counts too,
so tests poke and wait on a quiet operator (the e2e tests run one at a time).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.support.wait import wait_for

#: The ``result`` label values of ``controller_runtime_reconcile_total`` (``metrics/registry.py``).
RESULTS = ("success", "error", "requeue", "requeue_after")


def controller_work(metrics_text: str, controller: str) -> dict[str, float]:
    """``controller``'s reconciles so far (``total``, and per result: ``success``, ``error``,
    ``requeue``, ``requeue_after``), the keys added to its queue so far (``added``: events mapped to
    it, counted whether or not a worker runs — a follower's informers queue work too) and its work
    now (keys ``queued``, workers ``active``).

    A reconcile that decided to come back later (``requeue_after``: e.g. a grace period not yet over)
    is told apart from one that decided there is nothing to do (``success``), so a test can show
    that an event was handled *and* that nothing is scheduled because of it."""
    out = {"total": 0.0, "added": 0.0, "queued": 0.0, "active": 0.0, **dict.fromkeys(RESULTS, 0.0)}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if family.name == "controller_runtime_reconcile" and sample.name.endswith("_total"):
                if sample.labels.get("controller") == controller:
                    out["total"] += sample.value
                    result = sample.labels.get("result", "")
                    if result in out:
                        out[result] += sample.value
            elif family.name == "workqueue_adds" and sample.name.endswith("_total"):
                out["added"] += sample.value if sample.labels.get("name") == controller else 0.0
            elif family.name == "workqueue_depth" and sample.labels.get("name") == controller:
                out["queued"] = sample.value
            elif family.name == "controller_runtime_active_workers" and sample.labels.get("controller") == controller:
                out["active"] = sample.value
    return out


async def wait_idle(metrics: Callable[[], str], controller: str, *, after: float = -1.0, timeout: float = 30) -> float:  # noqa: ASYNC109
    """Wait until ``controller`` has made more than ``after`` reconciles and nothing is queued or running;
    returns its reconcile total then."""
    return (await wait_idle_work(metrics, controller, after=after, timeout=timeout))["total"]


async def wait_idle_work(
    metrics: Callable[[], str],
    controller: str,
    *,
    after: float = -1.0,
    timeout: float = 30,  # noqa: ASYNC109
) -> dict[str, float]:
    """:func:`wait_idle`, returning all of :func:`controller_work` then (the per-result counts too)."""
    return await wait_for(
        lambda: controller_work(metrics(), controller),
        lambda w: w["total"] > after and w["queued"] == 0 and w["active"] == 0,
        timeout=timeout,
        what=f"{controller} to reconcile (more than {after:g} in total) and go idle",
    )


def scrape(url: str) -> str:
    """The text of a ``/metrics`` endpoint (raises while it does not answer: "not yet" to ``wait_for``)."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


async def wait_queued_not_taken(
    metrics: Callable[[], str],
    controller: str,
    before: dict[str, float],
    *,
    timeout: float = 30,  # noqa: ASYNC109
) -> dict[str, float]:
    """Wait until ``controller`` has queued a key since ``before`` (its :func:`controller_work` then)
    and holds it untaken; fail at once if it reconciled anything since ``before``.

    How a test shows that a process that does not lead (a follower: its informers and queues run, its
    workers do not) has *seen* an event and left it alone, instead of sleeping for as long as a
    leader would take: a running worker takes a queued key at once, so the state awaited here (one
    more key added, a key waiting, no worker active, no reconcile since ``before``) does not last
    when one runs, and the reconcile count moves."""

    def untaken(work: dict[str, float]) -> bool:
        assert work["total"] == before["total"] and work["active"] == 0, (
            f"{controller} reconciled while it should not run any worker: {before} then {work}"
        )
        return work["added"] > before["added"] and work["queued"] >= 1

    return await wait_for(
        lambda: controller_work(metrics(), controller),
        untaken,
        timeout=timeout,
        what=f"{controller} to queue a key (more than {before['added']:g} added) and leave it waiting",
    )
