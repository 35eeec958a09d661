"""A KServe stand-in for benchmarks: every InferenceService is marked Ready as soon as it is seen.

The local cluster runs the real KServe controller, which turns each InferenceService into a
Deployment, pods and a status that follows them; at 1 000 or 10 000 services that measures KServe
and kwok as much as the operator. The scale benchmark (``tests/bench/bench_scale.py``) starts its
cluster *without* KServe and runs this instead: one list+watch of every InferenceService, and for
each one not yet Ready, one merge-patch of its ``status`` subresource with ``Ready=True`` (and
``PredictorReady=True``). It acts only through the real API, writes each InferenceService's status
once (it counts its writes, so a benchmark can subtract them from the apiserver's totals), and is
never kinder than KServe: readiness is reported only after the InferenceService exists.

Not for behaviour tests: it ignores the spec entirely (no predictor, no failure, no URL logic).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from kubernetes_asyncio import client

from tests.sim.watch import Obj, Watcher, key_of
from tests.support import kube

PATH = "/apis/serving.kserve.io/v1beta1/inferenceservices"


def _ready(obj: Obj) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def ready_status() -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "status": {
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": now} for t in ("PredictorReady", "Ready")
            ]
        }
    }


class ReadyOnSight:
    """Marks every InferenceService of the cluster Ready once; ``writes`` counts the status patches."""

    def __init__(self, api: client.ApiClient, in_flight: int = 32) -> None:
        self.api = api
        self.writes = 0
        self.errors = 0
        self._marked: set[str] = set()
        self._send, self._receive = anyio.create_memory_object_stream[Obj](max_buffer_size=1_000_000)
        self._in_flight = in_flight
        # A deleted key is forgotten: an InferenceService re-created under its name is marked again.
        self.watcher = Watcher(api, PATH, on_change=self._seen, on_delete=self._marked.discard)

    def _seen(self, obj: Obj) -> None:
        key = key_of(obj)
        if _ready(obj) or key in self._marked:
            return
        self._marked.add(key)
        self._send.send_nowait(obj)

    async def run(self) -> None:
        """Watch and mark until cancelled."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.watcher.run)
            for _ in range(self._in_flight):
                tg.start_soon(self._worker)

    async def _worker(self) -> None:
        async for obj in self._receive.clone():
            meta = obj["metadata"]
            path = f"/apis/serving.kserve.io/v1beta1/namespaces/{meta['namespace']}/inferenceservices/{meta['name']}"
            try:
                self.writes += 1
                await kube.request(self.api, "PATCH", f"{path}/status", ready_status(), "application/merge-patch+json")
            except Exception:
                self.errors += 1
                self._marked.discard(key_of(obj))  # seen again on its next event (or never, if deleted)
