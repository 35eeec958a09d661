"""What ``get`` and ``explain`` read, and into which :class:`aimctl.inspect.tree.Snapshot` (I/O edge).

RBAC (what the README's Access section lists): ``get`` and ``list`` on the AIM kinds are required;
everything else is optional and read only to show more of the chain — ``list`` on pods,
persistentvolumeclaims, jobs (batch), events (events.k8s.io), inferenceservices, servingruntimes and
clusterservingruntimes (serving.kserve.io), httproutes and ``get`` on gateways
(gateway.networking.k8s.io), ``list`` on nodes (for the GPU hint).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aimctl import labels as L
from aimctl.api.kinds import KindInfo
from aimctl.cli.access import Reader, gather
from aimctl.inspect.tree import ISVC_LABEL, Snapshot
from aimctl.kube import resources as R
from aimctl.kube.objects import dig_list
from informers.resource import Resource

GATEWAYS = Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway")


def aim_resource(info: KindInfo) -> Resource:
    return R.by_kind(info.kind, info.group)


def operator_namespace() -> str:
    return os.environ.get(L.OPERATOR_NAMESPACE_ENV) or L.DEFAULT_OPERATOR_NAMESPACE


class _Collector:
    """Concurrent list calls whose results land in ``objects[kind]``."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Callable[[], Any]] = []

    def add(self, resource: Resource, namespace: str | None, *, optional: bool, selector: str = "") -> None:
        async def call() -> None:
            items = await self.reader.list(resource, namespace, optional=optional, label_selector=selector)
            bucket = self.objects.setdefault(resource.kind, [])
            seen = {o["metadata"].get("uid") for o in bucket}
            bucket.extend(o for o in items if o["metadata"].get("uid") not in seen)

        self.calls.append(call)

    async def run(self) -> None:
        await gather(self.calls)
        self.calls = []


async def snapshot_for_get(reader: Reader, kinds: Sequence[KindInfo], namespace: str | None) -> Snapshot:
    """The objects of ``kinds`` (``namespace`` None = all namespaces), plus, for services, what their
    columns need: templates, images, InferenceServices, routes, gateways and predictor pods."""
    c = _Collector(reader)
    for info in kinds:
        c.add(aim_resource(info), namespace if info.namespaced else None, optional=False)
    if any(k.kind == "AIMService" for k in kinds):
        extra = {k.kind for k in kinds}
        for res in (R.AIM_SERVICE_TEMPLATES, R.AIM_IMAGES):
            if res.kind not in extra:
                c.add(res, namespace, optional=True)
        for res in (R.AIM_CLUSTER_SERVICE_TEMPLATES, R.AIM_CLUSTER_IMAGES):
            if res.kind not in extra:
                c.add(res, None, optional=True)
        c.add(R.INFERENCE_SERVICES, namespace, optional=True)
        c.add(R.HTTP_ROUTES, namespace, optional=True)
        c.add(R.PODS, namespace, optional=True, selector=ISVC_LABEL)
    await c.run()
    await _gateways(reader, c)
    return Snapshot(c.objects, datetime.now(UTC), unreadable=dict(reader.unreadable))


async def _gateways(reader: Reader, c: _Collector) -> None:
    """GET the Gateways the routes name (a cluster-wide list of gateways is not needed)."""
    wanted = {
        (str(ref.get("namespace") or r["metadata"]["namespace"]), str(ref.get("name")))
        for r in c.objects.get("HTTPRoute", [])
        for ref in dig_list(r, "spec", "parentRefs")
        if ref.get("name") and (ref.get("kind") or "Gateway") == "Gateway"
    }

    async def one(ns: str, name: str) -> None:
        try:
            gw = await reader.get(GATEWAYS, ns, name)
        except Exception as e:  # optional: a denial only hides the Gateway
            reader.unreadable.setdefault("Gateway", f"get gateways in {ns}: {str(e).split(':')[0]}")
            return
        if gw is not None:
            c.objects.setdefault("Gateway", []).append(gw)

    await gather([functools.partial(one, ns, name) for ns, name in sorted(wanted)])


async def snapshot_for_explain(reader: Reader, info: KindInfo, namespace: str, name: str) -> tuple[Snapshot, Any]:
    """The object and everything its tree may show; ``(snapshot, None)`` when the object is absent."""
    obj = await reader.get(aim_resource(info), namespace if info.namespaced else None, name)
    if obj is None:
        return Snapshot({}, datetime.now(UTC)), None
    op_ns = operator_namespace()
    ns = namespace if info.namespaced else op_ns
    c = _Collector(reader)
    for res in (
        R.AIM_SERVICE_TEMPLATES,
        R.AIM_IMAGES,
        R.AIM_RUNTIME_CONFIGS,
        R.AIM_TEMPLATE_CACHES,
        R.AIM_MODEL_CACHES,
    ):
        c.add(res, ns, optional=not info.namespaced)
    for res in (R.AIM_CLUSTER_SERVICE_TEMPLATES, R.AIM_CLUSTER_IMAGES, R.AIM_CLUSTER_RUNTIME_CONFIGS):
        c.add(res, None, optional=False)
    for res in (R.PERSISTENT_VOLUME_CLAIMS, R.JOBS, R.PODS, R.INFERENCE_SERVICES, R.HTTP_ROUTES, R.SERVING_RUNTIMES,
                R.EVENTS):  # fmt: skip
        c.add(res, ns, optional=True)
    for extra_ns in sorted({op_ns, "default"} - {ns}):
        # Discovery Jobs of cluster templates run in the operator namespace; events about cluster-
        # scoped objects are recorded in "default".
        if extra_ns == op_ns:
            c.add(R.JOBS, extra_ns, optional=True)
            c.add(R.PODS, extra_ns, optional=True)
        c.add(R.EVENTS, extra_ns, optional=True)
    c.add(R.CLUSTER_SERVING_RUNTIMES, None, optional=True)
    c.add(R.NODES, None, optional=True)
    await c.run()
    await _gateways(reader, c)
    for o in c.objects.get("InferenceService", []):
        o.setdefault("kind", "InferenceService")
    nodes = None if "Node" in reader.unreadable else c.objects.pop("Node", [])
    events = c.objects.pop("Event", [])
    snap = Snapshot(c.objects, datetime.now(UTC), events=events, nodes=nodes, unreadable=dict(reader.unreadable),
                    operator_namespace=op_ns)  # fmt: skip
    return snap, obj
