"""The state of one object as a person reads it: a word, a reason, a message, and a health (pure).

Health is one of :data:`OK`, :data:`WAITING` (progressing, pending, not created yet) or
:data:`FAILED`; ``explain`` looks for its blocker among the failed objects, then among the waiting
ones. AIM kinds report their own ``status.status`` and conditions; Jobs, PVCs, pods, InferenceServices,
HTTPRoutes and Gateways are read the way ``kubectl describe`` readers read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aimctl.kube.objects import condition, conditions_of, container_statuses, dig, dig_list, dig_map, dig_str, status_of

Health = Literal["ok", "waiting", "failed"]
OK: Health = "ok"
WAITING: Health = "waiting"
FAILED: Health = "failed"

Obj = Mapping[str, Any]

_OK_STATES = frozenset({"Running", "Available", "Ready"})
_FAILED_STATES = frozenset({"Failed", "Degraded"})


@dataclass(frozen=True)
class State:
    """``state`` is the word shown (``Running``, ``Bound``, ``NotFound``); ``reason`` and ``message``
    explain a state that is not OK (empty otherwise)."""

    state: str
    health: Health
    reason: str = ""
    message: str = ""


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2026-01-02T03:04:05Z``, with or without fraction) or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def age(timestamp: Any, now: datetime) -> str:
    """kubectl's short age: ``45s``, ``3m12s`` (under 10 min), ``42m``, ``5h3m``, ``3d``; ``-`` if unknown."""
    when = parse_time(timestamp)
    if when is None:
        return "-"
    s = max(0, int((now - when).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3600:
        return f"{s // 60}m"
    if s < 8 * 3600:
        h, m = divmod(s // 60, 60)
        return f"{h}h{m}m" if m else f"{h}h"
    if s < 2 * 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def _failure(obj: Obj) -> tuple[str, str]:
    """Reason and message of the condition that explains a problem: ``Failure=True`` first, then
    ``Ready=False``, then any other ``False`` condition (empty when none)."""
    conds = conditions_of(obj)
    for c in conds:
        if c.get("type") == "Failure" and c.get("status") == "True":
            return str(c.get("reason") or ""), str(c.get("message") or "")
    ready = condition(obj, "Ready")
    if ready is not None and ready.get("status") != "True":
        return str(ready.get("reason") or ""), str(ready.get("message") or "")
    for c in conds:
        if c.get("status") == "False" and c.get("type") not in ("Failure", "Progressing"):
            return str(c.get("reason") or ""), str(c.get("message") or "")
    return "", ""


def aim_state(obj: Obj) -> State:
    """An AIM object: ``status.status`` (runtime configs, which have none, by their Ready condition)."""
    word = dig_str(obj, "status", "status")
    ready = condition(obj, "Ready")
    if not word:
        if ready is None:
            return State("Pending", WAITING, "NoStatus", "the operator has not reported a status yet")
        word = "Ready" if ready.get("status") == "True" else "NotReady"
    if word in _OK_STATES:
        return State(word, OK)
    reason, message = _failure(obj)
    if word in _FAILED_STATES or word == "NotReady":
        return State(word, FAILED, reason, message)
    return State(word, WAITING, reason, message)


def job_state(job: Obj) -> State:
    for c in conditions_of(job):
        if c.get("status") != "True":
            continue
        if c.get("type") == "Complete":
            return State("Complete", OK)
        if c.get("type") == "Failed":
            return State("Failed", FAILED, str(c.get("reason") or "Failed"), str(c.get("message") or ""))
    status = status_of(job)
    if status.get("active"):
        return State("Running", WAITING, "Active", f"{status['active']} pod(s) running")
    return State("Pending", WAITING, "", "")


def pvc_state(pvc: Obj) -> State:
    phase = dig_str(pvc, "status", "phase", default="Pending")
    if phase == "Bound":
        return State("Bound", OK)
    if phase == "Lost":
        return State("Lost", FAILED, "Lost", "the PersistentVolume of this claim is gone")
    return State(phase, WAITING, "Pending", "no volume bound yet")


_POD_BAD_WAITING = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError", "InvalidImageName"}
)


def pod_state(pod: Obj) -> State:
    status = status_of(pod)
    phase = str(status.get("phase") or "Pending")
    for cs in container_statuses(pod):
        waiting = dig_map(cs, "state", "waiting")
        if waiting.get("reason") in _POD_BAD_WAITING:
            return State(str(waiting["reason"]), FAILED, str(waiting["reason"]), str(waiting.get("message") or ""))
    if phase == "Succeeded":
        return State("Succeeded", OK)
    if phase == "Failed":
        return State("Failed", FAILED, str(status.get("reason") or "Failed"), str(status.get("message") or ""))
    scheduled = condition(pod, "PodScheduled")
    if scheduled is not None and scheduled.get("status") == "False":
        return State("Pending", WAITING, str(scheduled.get("reason") or ""), str(scheduled.get("message") or ""))
    ready = condition(pod, "Ready")
    if phase == "Running" and ready is not None and ready.get("status") == "True":
        return State("Running", OK)
    return State(phase, WAITING, "", "")


def isvc_state(isvc: Obj) -> State:
    """KServe: ``Ready`` True → Ready; a False condition with a failure reason → Failed; else waiting."""
    ready = condition(isvc, "Ready")
    if ready is not None and ready.get("status") == "True":
        return State("Ready", OK)
    reason, message = _failure(isvc)
    failed = any(
        c.get("status") == "False" and "fail" in str(c.get("reason") or "").lower() for c in conditions_of(isvc)
    ) or bool(dig(isvc, "status", "modelStatus", "lastFailureInfo"))
    return State("NotReady", FAILED if failed else WAITING, reason, message)


def _parents_conditions(route: Obj) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for parent in dig_list(route, "status", "parents"):
        out.extend(c for c in dig_list(parent, "conditions") if isinstance(c, Mapping))
    return out


def route_state(route: Obj) -> State:
    conds = _parents_conditions(route)
    if not conds:
        return State("Pending", WAITING, "NoParentStatus", "no Gateway controller has accepted the route yet")
    for c in conds:
        if c.get("type") == "Accepted" and c.get("status") == "False":
            return State("NotAccepted", FAILED, str(c.get("reason") or ""), str(c.get("message") or ""))
    for c in conds:
        if c.get("status") == "False":
            return State("Pending", WAITING, str(c.get("reason") or ""), str(c.get("message") or ""))
    return State("Accepted", OK)


def gateway_state(gateway: Obj) -> State:
    for type_ in ("Programmed", "Accepted"):
        c = condition(gateway, type_)
        if c is not None:
            if c.get("status") == "True":
                return State(type_, OK)
            return State(f"Not{type_}", FAILED, str(c.get("reason") or ""), str(c.get("message") or ""))
    return State("Pending", WAITING, "NoStatus", "no Gateway controller has reported on this Gateway")


def state_of(kind: str, obj: Obj) -> State:
    """The state of an object of ``kind``; kinds without a status of their own exist and are OK."""
    if kind.startswith("AIM"):
        return aim_state(obj)
    readers = {
        "Job": job_state,
        "PersistentVolumeClaim": pvc_state,
        "Pod": pod_state,
        "InferenceService": isvc_state,
        "HTTPRoute": route_state,
        "Gateway": gateway_state,
    }
    reader = readers.get(kind)
    return reader(obj) if reader else State("Present", OK)


def ready_pods(pods: Sequence[Obj]) -> int:
    """Pods whose ``Ready`` condition is True."""
    return sum(1 for p in pods if condition(p, "Ready", "True") is not None)
