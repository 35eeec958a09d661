"""Reading the local cluster's apiserver audit log (``DevCluster(audit_log=True)``): who wrote what, when.

The policy (:data:`aimctl.devcluster.components.AUDIT_POLICY`) logs writes only, once their answer is
complete, at Metadata level; each line becomes a :class:`Write`. Timestamps are the apiserver's
(microseconds, UTC), so writes of different clients compare on one clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Write:
    user: str
    verb: str  # create, update, patch, delete, deletecollection
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    received: dt.datetime
    completed: dt.datetime

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse(lines: Iterable[str]) -> list[Write]:
    out = []
    for line in lines:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("stage") != "ResponseComplete":
            continue
        ref = ev.get("objectRef") or {}
        user = (ev.get("impersonatedUser") or ev.get("user") or {}).get("username", "")
        out.append(
            Write(
                user=user,
                verb=ev.get("verb", ""),
                resource=ref.get("resource", ""),
                subresource=ref.get("subresource", ""),
                namespace=ref.get("namespace", ""),
                name=ref.get("name", ""),
                code=int((ev.get("responseStatus") or {}).get("code", 0)),
                received=_time(ev["requestReceivedTimestamp"]),
                completed=_time(ev["stageTimestamp"]),
            )
        )
    return out


def writes(log_file: Path, since: dt.datetime | None = None) -> list[Write]:
    """Every logged write (completed at or after ``since``), oldest first."""
    if not log_file.exists():
        return []
    with log_file.open(encoding="utf-8", errors="replace") as fh:
        found = parse(fh)
    if since is not None:
        found = [w for w in found if w.completed >= since]
    return sorted(found, key=lambda w: w.completed)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
