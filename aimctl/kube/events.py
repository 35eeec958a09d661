"""Kubernetes Events through ``events.k8s.io/v1``, best effort.

Why: users look at ``kubectl describe`` and ``kubectl events`` first. DESIGN.md §4: one event per
state transition, never one per reconcile — the controllers decide *when* (on a transition); this
module only builds and posts the event correctly:

* ``regarding`` is a full object reference (apiVersion, kind, name, namespace, uid, resourceVersion);
* ``reportingController`` is ``aim.silogen.ai/<controller>``, ``reportingInstance`` the pod name
  (``$POD_NAME``, else the host name);
* the name is ``<regarding-name>.<hex unix nanoseconds>`` like client-go's recorder;
* ``reason`` and ``action`` are cut to 128 characters and ``note`` to 1 KiB, as the API requires;
* an event about a cluster-scoped object goes to the ``default`` namespace, as client-go does.

Guarantees and caveats: :meth:`EventRecorder.emit` never raises for API errors (events are not state;
a failure is logged and counted in :attr:`EventRecorder.failed`); it does wait for the request, which
goes through the client's write limits like every other write. Notes go through the log scrubber's
value layer so a secret remembered by the logger is not published in an event either.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from aimctl.kube.resources import EVENTS
from aimctl.logging import SCRUBBER
from informers.rest import RestClient
from informers.store import Obj

log = structlog.get_logger("aimctl.kube.events")

EventType = Literal["Normal", "Warning"]
MAX_NOTE = 1024
MAX_REASON = 128


def reporting_instance() -> str:
    return os.environ.get("POD_NAME") or socket.gethostname()


def object_reference(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v}


def build_event(
    regarding: Obj,
    type_: EventType,
    reason: str,
    action: str,
    note: str,
    controller: str,
    instance: str,
    related: Obj | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``events.k8s.io/v1`` Event body (pure, for tests)."""
    meta = regarding.get("metadata") or {}
    stamp = now or datetime.now(UTC)
    note = SCRUBBER.scrub_text(note)
    if len(note.encode()) > MAX_NOTE:
        note = note.encode()[: MAX_NOTE - 3].decode("utf-8", "ignore") + "..."
    body: dict[str, Any] = {
        "apiVersion": EVENTS.api_version,
        "kind": EVENTS.kind,
        "metadata": {
            "name": f"{meta.get('name', 'unknown')}.{time.time_ns():x}",
            "namespace": meta.get("namespace") or "default",
        },
        "eventTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "type": type_,
        "reason": reason[:MAX_REASON],
        "action": action[:MAX_REASON],
        "note": note,
        "regarding": object_reference(regarding),
        "reportingController": f"aim.silogen.ai/{controller}"[:128],
        "reportingInstance": instance[:128],
    }
    if related is not None:
        body["related"] = object_reference(related)
    return body


class EventRecorder:
    """Posts events for one controller."""

    def __init__(self, client: RestClient, controller: str, instance: str | None = None) -> None:
        self.client = client
        self.controller = controller
        self.instance = instance or reporting_instance()
        self.emitted = 0
        self.failed = 0

    async def emit(
        self,
        regarding: Obj,
        type_: EventType,
        reason: str,
        action: str,
        note: str,
        related: Obj | None = None,
    ) -> bool:
        """Post one event; return whether it was accepted (errors are logged, not raised)."""
        body = build_event(regarding, type_, reason, action, note, self.controller, self.instance, related)
        try:
            await self.client.request(
                "create", EVENTS.path(body["metadata"]["namespace"]), resource=EVENTS.name, body=body
            )
        except Exception as exc:  # best effort: API, connection and timeout errors alike
            self.failed += 1
            log.warning("could not post event", reason=reason, error=str(exc))
            return False
        self.emitted += 1
        return True
