"""A tiny controller for testing the runtime (no AIM logic): ``Echo`` objects → a ConfigMap each.

The ``Echo`` CRD (``echoes.testing.aimctl.dev``, namespaced, status subresource, schema open) is
installed by :func:`ensure_echo_crd`. For an ``Echo`` named *n*, the controller:

* logs the whole object at debug level (the secret-redaction test relies on this: ``spec.env``
  entries look like container env vars and their values must never reach the logs);
* applies a ConfigMap ``n-echo`` whose ``data`` is ``spec.data`` and whose controller owner is the
  Echo — skipped when the cached ConfigMap already matches;
* applies ``status`` ``{phase: Echoed, observedGeneration, child}`` — skipped when unchanged;
* emits one ``Normal`` event when the phase changes (never one per reconcile).

Like the AIM controllers it reads its own writes (``docs/reconcile.md``): the object its status
write returned is used instead of the cached copy while the cache is older, so a reconcile that
starts before the watch delivers that write does not write the status (and emit the event) again.
Events are posted off the reconcile's critical path, so nothing else slows a reconcile down enough
to hide a missing read-your-writes.

It records, per key, the monotonic time each reconcile started, for the benchmarks.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import structlog

from aimctl.kube.apply import Applier
from aimctl.kube.events import EventRecorder
from aimctl.kube.resources import CONFIG_MAPS, CUSTOM_RESOURCE_DEFINITIONS
from aimctl.kube.status import StatusWriter
from aimctl.manager import Manager
from aimctl.reconcile import Result, Watch
from informers.handlers import controller_owner_key, self_key
from informers.resource import Resource
from informers.rest import ApiError, RestClient
from tests.support.wait import wait_for

log = structlog.get_logger("tests.echo")

GROUP = "testing.aimctl.dev"
ECHOES = Resource(GROUP, "v1", "echoes", "Echo")

ECHO_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"echoes.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "echoes", "singular": "echo", "kind": "Echo", "listKind": "EchoList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        },
                    }
                },
            }
        ],
    },
}


async def ensure_echo_crd(client: RestClient) -> None:
    """Create the Echo CRD if absent and wait until it is served (idempotent, session-wide)."""
    try:
        await client.request("create", CUSTOM_RESOURCE_DEFINITIONS.path(), body=ECHO_CRD)
    except ApiError as exc:
        if not exc.conflict:
            raise
    # A list answers 404 until the CRD is served: an error is "not yet", shown if still there at the end.
    await wait_for(
        lambda: client.request("list", ECHOES.path("default"), query=[("limit", "1")]),
        lambda _: True,
        timeout=30,
        what="the Echo CRD to be served (a list of Echoes)",
    )


class EchoController:
    name = "echo"

    def __init__(self, manager: Manager) -> None:
        self.echoes = manager.cache.informer(ECHOES).store
        self.configmaps = manager.cache.informer(CONFIG_MAPS).store
        self.applier = Applier(manager.client, self.name)
        self.status = StatusWriter(manager.client, self.name)
        self.events = EventRecorder(manager.client, self.name)
        self.reconciles: dict[str, list[float]] = defaultdict(list)
        self.reconciled_rv: dict[str, str] = {}
        self._written: dict[str, dict[str, Any]] = {}

    def _read(self, key: str) -> dict[str, Any] | None:
        """The cached Echo, or the newer one this controller's last status write returned."""
        cached = self.echoes.get(key)
        mine = self._written.get(key)
        if cached is None or mine is None:
            self._written.pop(key, None)
            return cached
        if cached["metadata"]["uid"] == mine["metadata"]["uid"] and int(cached["metadata"]["resourceVersion"]) < int(
            mine["metadata"]["resourceVersion"]
        ):
            return mine
        del self._written[key]
        return cached

    def watches(self) -> list[Watch]:
        return [
            Watch(ECHOES, self_key),
            Watch(CONFIG_MAPS, controller_owner_key("Echo", GROUP)),
        ]

    async def reconcile(self, key: str) -> Result:
        self.reconciles[key].append(time.monotonic())
        echo = self._read(key)
        if echo is None:
            return Result()
        meta = echo["metadata"]
        self.reconciled_rv[key] = meta["resourceVersion"]
        log.debug("observed", echo=echo)
        ns, name = meta["namespace"], meta["name"]
        child_name = f"{name}-echo"
        desired = {
            "metadata": {
                "name": child_name,
                "namespace": ns,
                "labels": {"testing.aimctl.dev/echo": name},
                "ownerReferences": [
                    {
                        "apiVersion": ECHOES.api_version,
                        "kind": ECHOES.kind,
                        "name": name,
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "data": {str(k): str(v) for k, v in ((echo.get("spec") or {}).get("data") or {}).items()},
        }
        await self.applier.apply(CONFIG_MAPS, desired, self.configmaps.get(f"{ns}/{child_name}"))
        previous = (echo.get("status") or {}).get("phase")
        status = {"phase": "Echoed", "observedGeneration": meta.get("generation"), "child": child_name}
        written = await self.status.apply_status(ECHOES, echo, status)
        if written is not None:
            self._written[key] = written
        if written is not None and previous != "Echoed":
            await self.events.emit(echo, "Normal", "Echoed", "Reconcile", f"echoed into ConfigMap {child_name}")
        return Result()


def factory(manager: Manager) -> EchoController:
    """``aimctl run --controller tests.support.echo_controller:factory``."""
    return EchoController(manager)
