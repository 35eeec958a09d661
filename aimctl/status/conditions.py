"""Kubernetes-convention conditions from a machine's declared conditions (pure).

``lastTransitionTime`` changes only when a condition's ``status`` flips; ``observedGeneration`` is
the object's generation at the time of the decision. Conditions are recomputed from the observation
every reconcile, so a type the machine no longer declares is dropped — no stale condition survives
(a fix over the original operator, ``docs/original-behaviour.md`` fix 7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from statemachines.effects import Condition


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it (second precision, ``Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_conditions(
    existing: Sequence[dict[str, Any]] | None,
    desired: Iterable[Condition],
    generation: int,
    now: str,
) -> list[dict[str, Any]]:
    """The conditions to write: ``desired`` in declaration order, timestamps carried over when unflipped."""
    old = {c.get("type"): c for c in existing or []}
    merged: list[dict[str, Any]] = []
    for c in desired:
        prev = old.get(c.type)
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == c.status else None
        merged.append(
            {
                "type": c.type,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": since or now,
                "observedGeneration": generation,
            }
        )
    return merged
