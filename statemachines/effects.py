"""The effects a state machine may declare, and the conditions it computes. Data only, no I/O.

A machine never builds manifests or calls the API: it says *what* should happen ("the discovery Job
of this template should exist", "emit this event", "look again in 60 s"). The controller maps each
effect to a pure builder and a server-side apply, and skips the write when the cache already holds the
desired object.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Condition:
    """A desired condition (type, "True"/"False"/"Unknown", reason, message).

    ``lastTransitionTime`` and ``observedGeneration`` are filled in when the status is written, keeping
    the old time when the status value did not flip.
    """

    type: str
    status: str
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Effect:
    """Base of every effect."""


@dataclass(frozen=True)
class ApplyChild(Effect):
    """Ensure the child playing ``role`` (e.g. ``"discovery-job"``) exists as the builders describe it."""

    role: str


@dataclass(frozen=True)
class DeleteChild(Effect):
    """Ensure the child playing ``role`` is gone (``name`` narrows it to one object of that role)."""

    role: str
    name: str = ""


@dataclass(frozen=True)
class EmitEvent(Effect):
    """Record a Kubernetes event on the object (``type`` is ``Normal`` or ``Warning``)."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class RequeueAfter(Effect):
    """Reconcile again after ``seconds`` even if nothing changes (polling, deferred work, backoff)."""

    seconds: float
