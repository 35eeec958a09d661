"""``status.lastUsed`` of an AIMModelCache: when a service that mounts the cache was last deployed.

Who writes it: the AIMService controller, when it applies an InferenceService that mounts the cache's
PVC (``docs/original-behaviour.md``, fix 3). It sends the fragment :func:`last_used_status` returns as a
server-side apply of the cache's **status subresource** with its own field manager, e.g.::

    fragment = last_used_status(cache, now_rfc3339())
    if fragment is not None:
        await status_writer.apply_status(AIM_MODEL_CACHES, cache, {**cache.get("status", {}), **fragment})

The model-cache controller never computes ``lastUsed``; it carries the cached value over in every
status it writes, so the field survives its reconciles.

Guarantees: pure; ``None`` when the recorded time is already at or after ``used_at`` (timestamps are
RFC 3339 UTC with second precision, ``YYYY-MM-DDTHH:MM:SSZ``, so they order as strings) — a redeploy
storm never turns into a write storm, and a late writer never moves the time backwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimctl.kube.objects import dig


def last_used_status(cache: Mapping[str, Any], used_at: str) -> dict[str, str] | None:
    """The status fragment ``{"lastUsed": used_at}`` to record a use at ``used_at``, or ``None`` when
    ``cache`` already records that time or a later one."""
    current = dig(cache, "status", "lastUsed")
    if isinstance(current, str) and current >= used_at:
        return None
    return {"lastUsed": used_at}
