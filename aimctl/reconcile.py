"""The contract between a controller and the manager: what it watches, how events become keys,
and what a reconcile returns.

Why a protocol: the manager needs only three things from a controller — a name, a list of watches
(each a resource plus a function from an informer event to the keys to reconcile) and an
``async reconcile(key) -> Result`` that reads only the cache. Everything else — the work queue, the
workers, retries, metrics, logging context, leader election — is the manager's.

Writing a controller: the AIM controllers do not implement this protocol by hand. They subclass
:class:`aimctl.controllers.base.KindController`, whose ``reconcile`` is the shared pipeline (read,
observe, decide, apply, status, event), and supply the kind-specific parts (see
``docs/architecture.md``, "Writing a controller"). Abridged from
:mod:`aimctl.controllers.runtimeconfig`::

    class RuntimeConfigController(KindController[RuntimeConfigObservation]):
        machine = MACHINE  # statemachines.runtimeconfig: rules, guards, effects

        def __init__(self, manager: Manager, namespaced: bool) -> None:
            self.resource = AIM_RUNTIME_CONFIGS if namespaced else AIM_CLUSTER_RUNTIME_CONFIGS
            self.name = "aim-runtime-config" if namespaced else "aim-cluster-runtime-config"
            informer = manager.cache.informer(self.resource)
            informer.add_indexer(BY_STORAGE_CLASS, index_storage_class)
            self.storage_classes = manager.cache.informer(STORAGE_CLASSES).store
            super().__init__(informer.store, *io_parts(manager.client, self.name), manager.metrics)

        def watches(self) -> Sequence[Watch]:
            return [
                Watch(self.resource, self_key),
                Watch(STORAGE_CLASSES, indexed_keys(self.store, BY_STORAGE_CLASS, _name)),
            ]

        async def observe(self, obj: Obj) -> RuntimeConfigObservation:
            ...  # from the stores only: the spec, and whether the storage class exists

A kind with children also declares each role its machine's ``ApplyChild`` / ``DeleteChild`` effects
name, once, in ``children()`` (:class:`aimctl.controllers.base.Child`: role, resource, builder,
deletion); a unit test checks the declarations against the machine. Only a controller outside the AIM kinds
(the ``Echo`` test controller in ``tests/support/echo_controller.py``) implements the protocol
directly. Every controller ``aimctl run`` starts is listed in :mod:`aimctl.controllers.registry`.

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
