"""The contract between a controller and the manager: what it watches, how events become keys,
and what a reconcile returns.

Why a protocol and not a base class or a framework: a controller is three things — a name, a list of
watches (each a resource plus a function from an informer event to the keys to reconcile) and an
``async reconcile(key) -> Result`` that reads only the cache (DESIGN.md §3). Everything else — the
work queue, the workers, retries, metrics, logging context, leader election — is the manager's.

Writing a controller::

    class MyController:
        name = "aimservice"

        def __init__(self, manager: Manager) -> None:
            self.services = manager.cache.informer(AIM_SERVICES).store
            self.applier = Applier(manager.client, self.name)

        def watches(self) -> list[Watch]:
            return [
                Watch(AIM_SERVICES, self_key),
                Watch(INFERENCE_SERVICES, controller_owner_key("AIMService", "aim.silogen.ai"),
                      transform=slim(["status.conditions"])),
            ]

        async def reconcile(self, key: str) -> Result:
            obj = self.services.get(key)
            if obj is None:
                return Result()          # deleted: children go by garbage collection
            ...
            return Result(requeue_after=30) if waiting else Result()

Result semantics (controller-runtime's):

========================== ============================================== =====================
reconcile outcome          queue action                                   ``result`` label
========================== ============================================== =====================
``Result()``               forget the key's failures                      ``success``
``Result(requeue_after=d)`` forget, then add the key again after ``d`` s   ``requeue_after``
``Result(requeue=True)``   add again with per-key backoff (5 ms x2ⁿ)       ``requeue``
raises ``TerminalError``   forget; no retry (wait for the next change)    ``error`` (+terminal)
raises anything else       add again with per-key backoff                 ``error``
exceeds the timeout        same as an exception                           ``error``
========================== ============================================== =====================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from informers.handlers import KeyMapper
from informers.reflector import Selection
from informers.resource import Resource
from informers.store import IndexFunc
from informers.transform import Transform


@dataclass(frozen=True)
class Result:
    """What a reconcile asks of the queue (see the table in the module docstring)."""

    requeue_after: float | None = None
    requeue: bool = False


class TerminalError(Exception):
    """A problem retrying cannot fix (invalid spec, missing reference): reported, not retried.

    The controller is expected to have recorded it in status and emitted a Warning event; the key is
    reconciled again when one of its watched objects changes.
    """


@dataclass(frozen=True)
class Watch:
    """One informer a controller needs, and how its events map to the controller's keys.

    ``transform`` (a slim projection for children), ``selections`` (server-side field selectors:
    what is listed and watched at all) and ``indexers`` are applied to the shared informer of
    ``resource``; controllers sharing a resource must agree on its transform and selections.
    """

    resource: Resource
    map: KeyMapper
    transform: Transform | None = None
    indexers: Mapping[str, IndexFunc] = field(default_factory=dict)
    selections: Sequence[Selection] = ()


@runtime_checkable
class Controller(Protocol):
    """A reconciler the manager can run (see the module docstring)."""

    name: str

    def watches(self) -> Sequence[Watch]:
        """The informers this controller needs and the key mapping of each (called once)."""
        ...

    async def reconcile(self, key: str) -> Result:
        """Bring the object named by ``key`` (``namespace/name`` or ``name``) to its desired state,
        reading only from the cache."""
        ...
