"""Simulated Gateway API controller: accepts HTTPRoutes attached to its Gateways (no data plane).

The local cluster has the Gateway API CRDs but no implementation, so this simulator plays one through
the real API (field manager ``sim-gateway-controller``), for the GatewayClasses whose
``spec.controllerName`` is :data:`CONTROLLER_NAME`:

* such a GatewayClass gets ``Accepted=True``; each Gateway of such a class gets ``Accepted`` and
  ``Programmed`` True;
* for each HTTPRoute parentRef naming such a Gateway (kind ``Gateway``, group
  ``gateway.networking.k8s.io``, namespace defaulting to the route's), the route's ``status.parents``
  gets an entry with ``controllerName`` and two conditions, as a real implementation writes them:

  * ``Accepted``: True (``Accepted``) when a listener of the Gateway allows routes from the route's
    namespace (``allowedRoutes.namespaces.from``: ``Same`` — the default —, ``All``; ``Selector`` is
    treated as allowing), else False (``NotAllowedByListeners``);
  * ``ResolvedRefs``: True (``ResolvedRefs``).

  A Gateway annotated :data:`OUTCOME_ANNOTATION` ``=reject`` refuses every route
  (``Accepted=False``, ``NotAllowedByListeners``), ``=unresolved`` reports ``ResolvedRefs=False``
  (``BackendNotFound``) — the test's way of choosing an outcome;
* parentRefs naming a missing Gateway or one of another class get no entry (no controller claims
  them), exactly as on a cluster where nobody implements that Gateway.

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
OUTCOME_ANNOTATION = "sim.aimctl.dev/route-outcome"
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


def _allows(gateway: Obj, route_namespace: str) -> bool:
    gw_ns = gateway["metadata"]["namespace"]
    for listener in (gateway.get("spec") or {}).get("listeners") or []:
        if listener.get("protocol") not in ("HTTP", "HTTPS"):
            continue
        origin = (((listener.get("allowedRoutes") or {}).get("namespaces")) or {}).get("from", "Same")
        if origin in ("All", "Selector") or (origin == "Same" and route_namespace == gw_ns):
            return True
    return False


def route_parent_statuses(route: Obj, gateways: dict[str, Obj], ours: set[str], stamp: str) -> list[dict[str, Any]]:
    """The ``status.parents`` entries this controller owns for ``route`` (pure but for ``stamp``)."""
    meta = route["metadata"]
    generation = int(meta.get("generation") or 1)
    out: list[dict[str, Any]] = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if ref.get("kind", "Gateway") != "Gateway" or ref.get("group", GROUP) != GROUP:
            continue
        gw = gateways.get(f"{ref.get('namespace') or meta['namespace']}/{ref['name']}")
        if gw is None or (gw.get("spec") or {}).get("gatewayClassName") not in ours:
            continue
        outcome = ((gw["metadata"].get("annotations")) or {}).get(OUTCOME_ANNOTATION, "")
        accepted = outcome != "reject" and _allows(gw, meta["namespace"])
        resolved = outcome != "unresolved"
        out.append(
            {
                "parentRef": {k: v for k, v in ref.items() if v is not None},
                "controllerName": CONTROLLER_NAME,
                "conditions": [
                    _condition(
                        "Accepted",
                        accepted,
                        "Accepted" if accepted else "NotAllowedByListeners",
                        "Route is accepted" if accepted else "No listener of the Gateway allows this route",
                        generation,
                        stamp,
                    ),
                    _condition(
                        "ResolvedRefs",
                        resolved,
                        "ResolvedRefs" if resolved else "BackendNotFound",
                        "All references resolved" if resolved else "Backend Service not found",
                        generation,
                        stamp,
                    ),
                ],
            }
        )
    return out


def _carry(desired: list[dict[str, Any]], current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep timestamps of conditions that did not flip (so an unchanged route is not rewritten)."""
    old = {(p.get("parentRef", {}).get("name"), p.get("parentRef", {}).get("namespace")): p for p in current}
    for entry in desired:
        prev = old.get((entry["parentRef"].get("name"), entry["parentRef"].get("namespace")))
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
        self._dirty: set[tuple[str, str]] = set()
        self._wake = anyio.Event()
        self.writes = 0

    def _mark(self, item: tuple[str, str]) -> None:
        self._dirty.add(item)
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
            tg.start_soon(self.classes.run)
            tg.start_soon(self.gateways.run)
            await self.classes.synced.wait()
            await self.gateways.synced.wait()
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
            desired = _carry(route_parent_statuses(route, self.gateways.items, self.ours(), stamp), mine)
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
