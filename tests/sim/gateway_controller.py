"""Simulated Gateway API controller: route status by the Gateway API's own rules (no data plane).

The local cluster has the Gateway API CRDs but no implementation, so this simulator plays one through
the real API (field manager ``sim-gateway-controller``), for the GatewayClasses whose
``spec.controllerName`` is :data:`CONTROLLER_NAME`. It writes what the Gateway API spec (the types'
documentation in ``sigs.k8s.io/gateway-api`` ``apis/v1``) asks of an implementation:

* GatewayClass: ``Accepted=True``; Gateway of such a class: ``Accepted`` and ``Programmed`` True; each
  condition with the object's ``observedGeneration`` (``gatewayclass_types.go``, ``gateway_types.go``).
* HTTPRoute: one ``status.parents`` entry per parentRef naming a Gateway of ours, with ``parentRef``,
  ``controllerName`` and two conditions, each with the route's ``observedGeneration``
  (``shared_types.go``, ``RouteParentStatus``); parentRefs naming a missing Gateway or one of another
  class get no entry ("the Route refers to a nonexistent parent"), and entries of ours that no
  parentRef needs any more are removed; entries of other controllers are kept untouched.

  * ``Accepted`` (``RouteConditionAccepted``): False ``NoMatchingParent`` when the parentRef's
    ``sectionName``/``port`` match no listener; False ``NotAllowedByListeners`` when no matching
    listener's ``allowedRoutes`` (``namespaces.from`` ``Same`` — the default —, ``All``, or
    ``Selector`` evaluated against the route namespace's labels; ``kinds``) admits the route; False
    ``NoMatchingListenerHostname`` when the route's hostnames intersect no such listener's hostname;
    else True ``Accepted``.
  * ``ResolvedRefs`` (``RouteConditionResolvedRefs``): False ``InvalidKind`` for a backendRef that
    is not a core Service, ``RefNotPermitted`` for one in another namespace that no ReferenceGrant
    there allows, ``BackendNotFound`` for a Service that does not exist; else True ``ResolvedRefs``.

  A condition of ours whose ``observedGeneration`` is newer than the route this simulator has seen is
  not overwritten (the spec: the implementation's copy is stale; a later event brings the new one).

Statuses are written only when they change. Run it in a test session with
:func:`run_gateway_simulator`, or standalone::

    python -m tests.sim.gateway_controller --kubeconfig $(aimctl dev cluster kubeconfig)

:func:`gateway_manifests` returns a GatewayClass and a Gateway this simulator serves.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import anyio
from kubernetes_asyncio import client

from tests.sim.standalone import run_standalone
from tests.sim.watch import Obj, Watcher, key_of
from tests.support import kube

FIELD_MANAGER = "sim-gateway-controller"
CONTROLLER_NAME = "sim.aimctl.dev/gateway-controller"
GROUP = "gateway.networking.k8s.io"
BASE = f"/apis/{GROUP}/v1"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gateway_manifests(namespace: str, name: str = "gw", class_name: str = "sim", allow_all: bool = True) -> list[Obj]:
    """A GatewayClass served by the simulator and a Gateway of that class with one HTTP listener."""
    gc = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": class_name},
        "spec": {"controllerName": CONTROLLER_NAME},
    }
    gw = {
        "apiVersion": f"{GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "gatewayClassName": class_name,
            "listeners": [
                {
                    "name": "http",
                    "port": 80,
                    "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": "All" if allow_all else "Same"}},
                }
            ],
        },
    }
    return [gc, gw]


def _condition(type_: str, ok: bool, reason: str, message: str, generation: int, stamp: str) -> dict[str, Any]:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": stamp,
    }


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector against ``labels`` (an empty selector matches everything)."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _listener_admits(listener: dict[str, Any], gw_ns: str, route_ns: str, ns_labels: dict[str, str]) -> bool:
    """``allowedRoutes`` of one listener admits an HTTPRoute of ``route_ns``."""
    if listener.get("protocol") not in ("HTTP", "HTTPS"):
        return False
    allowed = listener.get("allowedRoutes") or {}
    kinds = allowed.get("kinds") or []
    if kinds and not any(k.get("kind") == "HTTPRoute" and k.get("group", GROUP) == GROUP for k in kinds):
        return False
    namespaces = allowed.get("namespaces") or {}
    origin = namespaces.get("from", "Same")
    if origin == "All":
        return True
    if origin == "Same":
        return route_ns == gw_ns
    if origin == "Selector":
        return _selector_matches(namespaces.get("selector") or {}, ns_labels)
    return False


def _hostname_matches(listener_host: str | None, route_hosts: list[str]) -> bool:
    """A listener without hostname matches every route; ``*.example.com`` matches one or more labels."""
    if not listener_host or not route_hosts:
        return True
    for host in route_hosts:
        if host == listener_host:
            return True
        if listener_host.startswith("*.") and host.endswith(listener_host[1:]) and host != listener_host[2:]:
            return True
        if host.startswith("*.") and listener_host.endswith(host[1:]):
            return True
    return False


def accepted_condition(
    route: Obj, ref: dict[str, Any], gateway: Obj, ns_labels: dict[str, str]
) -> tuple[bool, str, str]:
    """(status, reason, message) of ``Accepted`` for one parentRef (see the module docstring)."""
    gw_ns = gateway["metadata"]["namespace"]
    route_ns = route["metadata"]["namespace"]
    listeners = [
        lst
        for lst in (gateway.get("spec") or {}).get("listeners") or []
        if (ref.get("sectionName") in (None, lst.get("name"))) and (ref.get("port") in (None, lst.get("port")))
    ]
    if not listeners:
        return False, "NoMatchingParent", "No listener of the Gateway matches the parentRef's sectionName and port"
    admitting = [lst for lst in listeners if _listener_admits(lst, gw_ns, route_ns, ns_labels)]
    if not admitting:
        return False, "NotAllowedByListeners", "No listener of the Gateway allows this route"
    hosts = list((route.get("spec") or {}).get("hostnames") or [])
    if not any(_hostname_matches(lst.get("hostname"), hosts) for lst in admitting):
        return False, "NoMatchingListenerHostname", "No listener hostname matches the route's hostnames"
    return True, "Accepted", "Route is accepted"


def _granted(grants: list[Obj], route_ns: str, target_ns: str, name: str) -> bool:
    for grant in grants:
        if grant["metadata"].get("namespace") != target_ns:
            continue
        spec = grant.get("spec") or {}
        from_ok = any(
            f.get("group") == GROUP and f.get("kind") == "HTTPRoute" and f.get("namespace") == route_ns
            for f in spec.get("from") or []
        )
        to_ok = any(
            t.get("group", "") == "" and t.get("kind") == "Service" and t.get("name") in (None, "", name)
            for t in spec.get("to") or []
        )
        if from_ok and to_ok:
            return True
    return False


def resolved_refs_condition(route: Obj, services: set[str], grants: list[Obj]) -> tuple[bool, str, str]:
    """(status, reason, message) of ``ResolvedRefs`` (see the module docstring)."""
    route_ns = route["metadata"]["namespace"]
    refs = [b for rule in (route.get("spec") or {}).get("rules") or [] for b in rule.get("backendRefs") or []]
    for b in refs:
        if b.get("group", "") != "" or b.get("kind", "Service") != "Service":
            return (
                False,
                "InvalidKind",
                f"backendRef {b.get('name')}: {b.get('group')}/{b.get('kind')} is not a Service",
            )
    for b in refs:
        ns = b.get("namespace") or route_ns
        if ns != route_ns and not _granted(grants, route_ns, ns, b["name"]):
            return False, "RefNotPermitted", f"backendRef {ns}/{b['name']} is not allowed by a ReferenceGrant"
    for b in refs:
        ns = b.get("namespace") or route_ns
        if f"{ns}/{b['name']}" not in services:
            return False, "BackendNotFound", f"Service {ns}/{b['name']} not found"
    return True, "ResolvedRefs", "All references resolved"


def route_parent_statuses(
    route: Obj,
    gateways: dict[str, Obj],
    ours: set[str],
    stamp: str,
    services: set[str] | None = None,
    grants: list[Obj] | None = None,
    namespaces: dict[str, Obj] | None = None,
) -> list[dict[str, Any]]:
    """The ``status.parents`` entries this controller owns for ``route`` (pure but for ``stamp``).

    ``services`` are the ``namespace/name`` keys of existing Services, ``grants`` the ReferenceGrants,
    ``namespaces`` the Namespaces by name (for ``Selector`` listeners).
    """
    meta = route["metadata"]
    generation = int(meta.get("generation") or 1)
    ns_labels = ((namespaces or {}).get(meta["namespace"], {}).get("metadata") or {}).get("labels") or {}
    out: list[dict[str, Any]] = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("kind", "Gateway") != "Gateway" or ref.get("group", GROUP) != GROUP:
            continue
        gw = gateways.get(f"{ref.get('namespace') or meta['namespace']}/{ref['name']}")
        if gw is None or (gw.get("spec") or {}).get("gatewayClassName") not in ours:
            continue
        accepted = accepted_condition(route, ref, gw, ns_labels)
        resolved = resolved_refs_condition(route, services or set(), grants or [])
        out.append(
            {
                "parentRef": {k: v for k, v in ref.items() if v is not None},
                "controllerName": CONTROLLER_NAME,
                "conditions": [
                    _condition("Accepted", *accepted, generation, stamp),
                    _condition("ResolvedRefs", *resolved, generation, stamp),
                ],
            }
        )
    return out


def stale_view(mine: list[dict[str, Any]], generation: int) -> bool:
    """True if a condition of ours was written for a newer generation than the route we hold."""
    return any(int(c.get("observedGeneration") or 0) > generation for p in mine for c in p.get("conditions") or [])


def _ref_key(ref: dict[str, Any]) -> tuple[Any, ...]:
    return (ref.get("name"), ref.get("namespace"), ref.get("sectionName"), ref.get("port"))


def _carry(desired: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep timestamps of conditions that did not flip (so an unchanged route is not rewritten)."""
    old = {_ref_key(p.get("parentRef") or {}): p for p in current}
    for entry in desired:
        prev = old.get(_ref_key(entry["parentRef"]))
        prev_conds = {c.get("type"): c for c in (prev or {}).get("conditions") or []}
        for c in entry["conditions"]:
            p = prev_conds.get(c["type"])
            if p and p.get("status") == c["status"] and p.get("observedGeneration") == c["observedGeneration"]:
                c["lastTransitionTime"] = p.get("lastTransitionTime", c["lastTransitionTime"])
    return desired


class GatewaySimulator:
    """See the module docstring."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.classes = Watcher(api, f"{BASE}/gatewayclasses", on_change=lambda _o: self._mark_all())
        self.gateways = Watcher(api, f"{BASE}/gateways", on_change=lambda _o: self._mark_all(),
                                on_delete=lambda _k: self._mark_all())  # fmt: skip
        self.routes = Watcher(api, f"{BASE}/httproutes", on_change=lambda o: self._mark(("route", key_of(o))))
        # What ResolvedRefs and Selector listeners depend on: any change re-evaluates every route.
        self.services = Watcher(api, "/api/v1/services", on_change=lambda _o: self._mark_routes(),
                                on_delete=lambda _k: self._mark_routes())  # fmt: skip
        self.grants = Watcher(api, f"/apis/{GROUP}/v1beta1/referencegrants", on_change=lambda _o: self._mark_routes(),
                              on_delete=lambda _k: self._mark_routes())  # fmt: skip
        self.namespaces = Watcher(api, "/api/v1/namespaces", on_change=lambda _o: self._mark_routes())
        self._dirty: set[tuple[str, str]] = set()
        self._wake = anyio.Event()
        self.writes = 0

    def _mark(self, item: tuple[str, str]) -> None:
        self._dirty.add(item)
        self._wake.set()

    def _mark_routes(self) -> None:
        for key in self.routes.items:
            self._dirty.add(("route", key))
        self._wake.set()

    def _mark_all(self) -> None:
        for key in self.classes.items:
            self._dirty.add(("class", key))
        for key in self.gateways.items:
            self._dirty.add(("gateway", key))
        for key in self.routes.items:
            self._dirty.add(("route", key))
        self._wake.set()

    def ours(self) -> set[str]:
        return {
            name
            for name, gc in self.classes.items.items()
            if (gc.get("spec") or {}).get("controllerName") == CONTROLLER_NAME
        }

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            for w in (self.classes, self.gateways, self.services, self.grants, self.namespaces):
                tg.start_soon(w.run)
            for w in (self.classes, self.gateways, self.services, self.grants, self.namespaces):
                await w.synced.wait()
            tg.start_soon(self.routes.run)
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                items, self._dirty = self._dirty, set()
                for kind, key in sorted(items):
                    with contextlib.suppress(Exception):  # vanished objects and conflicts: next event
                        await self._sync(kind, key)

    async def _sync(self, kind: str, key: str) -> None:
        stamp = now()
        if kind == "route":
            route = self.routes.items.get(key)
            if route is None:
                return
            current = list((route.get("status") or {}).get("parents") or [])
            others = [p for p in current if p.get("controllerName") != CONTROLLER_NAME]
            mine = [p for p in current if p.get("controllerName") == CONTROLLER_NAME]
            generation = int(route["metadata"].get("generation") or 1)
            if stale_view(mine, generation):
                return
            desired = _carry(
                route_parent_statuses(
                    route,
                    self.gateways.items,
                    self.ours(),
                    stamp,
                    set(self.services.items),
                    list(self.grants.items.values()),
                    self.namespaces.items,
                ),
                mine,
            )
            if desired == mine:
                return
            await self._apply_status(route, "httproutes", {"parents": others + desired})
        elif kind == "gateway":
            gw = self.gateways.items.get(key)
            if gw is None or (gw.get("spec") or {}).get("gatewayClassName") not in self.ours():
                return
            await self._conditions(gw, "gateways", [("Accepted", "Accepted"), ("Programmed", "Programmed")], stamp)
        else:
            gc = self.classes.items.get(key)
            if gc is None or key not in self.ours():
                return
            await self._conditions(gc, "gatewayclasses", [("Accepted", "Accepted")], stamp)

    async def _conditions(self, obj: Obj, plural: str, types: list[tuple[str, str]], stamp: str) -> None:
        generation = int(obj["metadata"].get("generation") or 1)
        current = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
        if all(
            current.get(t, {}).get("status") == "True" and current.get(t, {}).get("observedGeneration") == generation
            for t, _ in types
        ):
            return
        conds = [_condition(t, True, r, f"{t} by the simulated controller", generation, stamp) for t, r in types]
        await self._apply_status(obj, plural, {"conditions": conds})

    async def _apply_status(self, obj: Obj, plural: str, status: dict[str, Any]) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace")
        path = (
            f"{BASE}/namespaces/{ns}/{plural}/{meta['name']}/status" if ns else f"{BASE}/{plural}/{meta['name']}/status"
        )
        body = {
            "apiVersion": f"{GROUP}/v1",
            "kind": obj.get("kind") or {"httproutes": "HTTPRoute", "gateways": "Gateway"}.get(plural, "GatewayClass"),
            "metadata": {"name": meta["name"], **({"namespace": ns} if ns else {})},
            "status": status,
        }
        await kube.apply(self.api, path, body, manager=FIELD_MANAGER)
        self.writes += 1


async def run_gateway_simulator(api: client.ApiClient, simulator: GatewaySimulator | None = None) -> None:
    """Run until cancelled (for a background task in a test session)."""
    await (simulator or GatewaySimulator(api)).run()


def main(argv: list[str] | None = None) -> None:
    run_standalone("Simulated Gateway API controller (HTTPRoute parent status).", run_gateway_simulator, argv)


if __name__ == "__main__":
    main()
