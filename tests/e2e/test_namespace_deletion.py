"""A namespace deleted under running services: the operator forgets every object of it.

Reproduced by a user (issue 11): a service whose namespace was deleted stayed in the operator's cache
and was retried forever with growing backoff (404 on its namespace). The operator's own figures say
whether it forgot: ``aim_resources`` is computed from the informer caches at scrape time, per
namespace; the JSON log has one ``reconcile failed; retrying`` line per failed reconcile, with the
key's namespace and the delay of its next retry.

This end-to-end check does not force the race (a status write answered after the namespace's
deletion reached the cache); ``tests/integration/test_namespace_deletion_retries.py`` does, and
fails on the old read-your-writes upsert with the user's exact symptom.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Operator
from tests.support import kube
from tests.support.discovery import unique
from tests.support.services import (
    OPERATOR_NAMESPACE,
    apply_all,
    cluster_objects,
    discovery_logs,
    image,
    isolate,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")

SERVICES = 5


def cached_objects(op: Operator, namespace: str) -> dict[str, float]:
    """``aim_resources`` of ``namespace`` by kind (what the operator's caches hold)."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(op.metrics()):
        if family.name == "aim_resources":
            for s in family.samples:
                if s.labels.get("namespace") == namespace and s.value:
                    out[s.labels["kind"]] = out.get(s.labels["kind"], 0) + s.value
    return out


def pending_retries(op: Operator, namespace: str, now: float) -> dict[str, tuple[int, float]]:
    """Keys of ``namespace`` whose last failed reconcile scheduled a retry that is not over yet
    (``{name: (retries, seconds until due)}``): a key retried forever never leaves this map."""
    last: dict[str, tuple[float, float, int]] = {}
    for line in op.log_text().splitlines():
        if '"reconcile failed; retrying"' not in line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("namespace") != namespace:
            continue
        at = _epoch(str(rec.get("timestamp") or ""))
        last[f"{rec.get('controller')}:{rec.get('name')}"] = (
            at,
            float(rec.get("retry_in") or 0),
            int(rec.get("retries") or 0),
        )
    # A retry is over 5 s after it was due: it either logged a new failure (then it is the last) or succeeded.
    return {k: (n, at + delay + 5 - now) for k, (at, delay, n) in last.items() if at + delay + 5 > now}


def _epoch(stamp: str) -> float:
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


async def test_services_of_a_deleted_namespace_leave_the_cache_and_the_queue(
    api: client.ApiClient, operator: Operator, tmp_path: Path
) -> None:
    ns = f"t-ns-gone-{int(time.time() * 1000) % 10**8}"
    await kube.create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await isolate(api, ns)
    img, tpl = unique("img-ns-gone"), unique("tpl-ns-gone")
    # The user's set-up: a cluster image with a default cluster template, which outlive the namespace.
    async with cluster_objects(api) as objs, discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
        objs += [image(img, default=tpl), template(tpl, img)]
        await apply_all(api, *objs)
        await wait_template(api, objs[1], "Available")
        svcs: list[dict[str, Any]] = [service(ns, f"svc-{i}", img) for i in range(SERVICES)]
        await apply_all(api, *svcs)
        for svc in svcs:
            await wait_service(api, svc, "Running", within=90)
        assert cached_objects(operator, ns).get("AIMService") == SERVICES

        await kube.delete(api, f"/api/v1/namespaces/{ns}")

        async def gone() -> bool:
            try:
                await kube.get(api, f"/api/v1/namespaces/{ns}")
            except Exception as exc:
                return getattr(exc, "status", None) == 404
            return False

        await wait_for(gone, bool, timeout=120, what=f"namespace {ns} to be deleted")

        # The caches forget every object of the namespace ...
        await wait_for(
            lambda: _async(cached_objects(operator, ns)),
            lambda left: not left,
            timeout=30,
            what=f"the operator's caches to forget namespace {ns}",
        )
        # ... and no key of it is retried any more: every failure's retry comes and goes without a
        # new one (the cluster template and image are still there: a key left in the cache would be
        # deployable, and its InferenceService apply would fail on the missing namespace forever).
        await wait_for(
            lambda: pending_retries(operator, ns, time.time()),
            lambda pending: not pending,
            timeout=150,
            interval=1,
            what="no key of the deleted namespace retried any more (pending retries)",
        )
        assert not cached_objects(operator, ns)
        assert await _services_anywhere(api, ns) == []


async def _async(value: Any) -> Any:
    return value


async def _services_anywhere(api: client.ApiClient, ns: str) -> list[Any]:
    items = (await kube.get(api, "/apis/aim.silogen.ai/v1alpha1/aimservices"))["items"]
    return [i for i in items if i["metadata"]["namespace"] == ns]
