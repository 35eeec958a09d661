"""The reconcile pipeline every AIM kind runs (DESIGN.md §3 steps 4-7).

1. Read the object from the cache (or from this controller's read-your-writes overlay, see
   :meth:`KindController._read`); a vanished object needs nothing (children go by garbage
   collection).
2. :meth:`KindController.observe` builds an immutable observation from the caches only (plus, for
   the two kinds that need them, a pod log or the OCI registry).
3. The kind's :class:`~statemachines.engine.KindMachine` decides the next state, conditions, status
   fields and effects.
4. Effects are executed in declaration order: ``ApplyChild(role)`` applies what
   :meth:`KindController.desired` builds for that role (skipped when the cached child carries the
   desired manifest's hash and every desired field, see :mod:`aimctl.kube.apply`),
   ``DeleteChild(role)`` deletes what :meth:`KindController.deletions` names.
5. The status (state, conditions with carried-over timestamps, ``observedGeneration``, the declared
   fields) is applied through the status subresource only when it differs from the cached one; the
   answer is kept in this controller's private overlay, never put into the shared cache.
6. On a state change: one event (declared by the rule, or a default one) and one
   ``aim_state_transitions_total`` increment. Never one per reconcile.
7. The smallest declared ``RequeueAfter`` becomes the result.

Failures in step 4 propagate to the manager, which retries with per-key backoff; the status of that
reconcile is not written, so nothing half-done is reported as done. One exception: a child that an
admission webhook refuses (e.g. KServe's validation of an InferenceService) is a verdict on the spec,
not a transient failure; a kind that reports refusals (:meth:`KindController.refused`) records it, and
the reconcile observes and decides again so the status says why (the refused apply is retried on the
next event).

The read-your-writes and apply guarantees are described in ``docs/reconcile.md``.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aimctl.kube.apply import Applier
from aimctl.kube.events import EventRecorder
from aimctl.kube.status import StatusWriter
from aimctl.reconcile import Result, Watch
from aimctl.status.conditions import merge_conditions, now_rfc3339
from informers.resource import Resource
from informers.rest import ApiError
from informers.store import Obj, Store
from informers.transform import strip_managed_fields
from metrics.registry import OperatorMetrics
from statemachines.effects import ApplyChild, DeleteChild, EmitEvent, RequeueAfter
from statemachines.engine import Decision, KindMachine

Obs = TypeVar("Obs")

#: States whose entry is reported as a Warning event by default.
WARNING_STATES = frozenset({"Failed", "Degraded", "NotAvailable"})


@dataclass(frozen=True)
class Desired:
    """One child a role wants: its resource, its full desired manifest and the cached copy (if any).

    ``hashed`` (default) records the manifest's hash on the child so that fields the builder stops
    setting are removed (see :mod:`aimctl.kube.apply`); off for status-subresource fragments."""

    resource: Resource
    manifest: Obj
    cached: Obj | None
    hashed: bool = True


@dataclass(frozen=True)
class Deletion:
    resource: Resource
    namespace: str | None
    name: str


class KindController(abc.ABC, Generic[Obs]):
    """Base of the AIM controllers; subclasses supply the kind-specific parts (see module docstring)."""

    name: str
    resource: Resource
    machine: KindMachine[Obs]

    def __init__(
        self, store: Store, applier: Applier, status: StatusWriter, events: EventRecorder, metrics: OperatorMetrics
    ) -> None:
        self.store = store
        self.applier = applier
        self.status_writer = status
        self.events = events
        self.metrics = metrics
        #: This controller's read-your-writes overlay: by key, the object its last status write
        #: returned, while the shared cache is older (see :meth:`_read`). Private to the controller.
        self._written: dict[str, Obj] = {}

    # -- kind-specific -----------------------------------------------------------------------------
    @abc.abstractmethod
    def watches(self) -> Sequence[Watch]: ...

    @abc.abstractmethod
    async def observe(self, obj: Obj) -> Obs:
        """The observation for one reconcile (cache reads only, except pod logs and the registry)."""

    def desired(self, role: str, obj: Obj, obs: Obs) -> list[Desired]:
        """The children of ``role`` (called for each ``ApplyChild``); no children by default."""
        raise NotImplementedError(f"{self.name}: no builder for child role {role!r}")

    def deletions(self, role: str, obj: Obj, obs: Obs, name: str = "") -> list[Deletion]:
        """The children of ``role`` to delete (called for each ``DeleteChild``)."""
        raise NotImplementedError(f"{self.name}: cannot delete child role {role!r}")

    def reports_refusals(self, child: Desired) -> bool:
        """Whether this kind reports an admission webhook's refusal of ``child`` in its status (then
        it overrides :meth:`refused` and reads the record in :meth:`observe`). By default: no, the
        error propagates like any other."""
        return False

    def refused(self, key: str, child: Desired, message: str) -> bool:
        """Record (``message``) or clear (``""``) the refusal of ``child`` of the object ``key``;
        True if the record changed."""
        return False

    def current_state(self, obj: Obj) -> str | None:
        """The machine state the object is in now: ``status.status`` by default (kinds whose status
        has no ``status`` field derive it from their conditions)."""
        state = (obj.get("status") or {}).get("status")
        return str(state) if state is not None else None

    def status_fields(self, obj: Obj, obs: Obs, decision: Decision) -> dict[str, Any]:
        """Status fields besides ``status``, ``conditions`` and ``observedGeneration`` (resolved
        references and the like). The decision's own ``status`` mapping is merged over these."""
        return {}

    # -- the pipeline ------------------------------------------------------------------------------
    def _read(self, key: str) -> Obj | None:
        """The object to reconcile: the shared cache's copy, or this controller's own newer copy.

        Read-your-writes: the watch event of this controller's last status write may arrive after
        the next reconcile of the key starts; deciding from the older status would repeat the
        transition (and its event). So the object the status write returned — the server's whole
        object at that resourceVersion, spec included — is kept in a private overlay
        (:attr:`_written`) and returned instead of the cached copy while the cache is older than it.

        Guarantees (see ``docs/reconcile.md``):
            * the shared store is never written here: other controllers' handlers see every status
              transition through the watch, with the true ``old`` object;
            * never an older spec than the cache's: the overlay is used only while the cached
              copy has the same UID and a strictly lower resourceVersion, and the overlay is the
              server's own object at a later version;
            * never a resurrected object: when the key is not in the cache (deleted, or its
              namespace deleted), the overlay is dropped and ``None`` is returned;
            * the overlay entry is dropped as soon as the cache catches up (same or newer version,
              another UID), so it holds at most one object per key being written.

        Resource versions are compared as integers, as client-go's
        ``IntegerResourceVersionMutationCache`` does (etcd revisions); a non-integer version drops
        the overlay entry."""
        obj = self.store.get(key)
        mine = self._written.get(key)
        if mine is None:
            return obj
        if obj is not None and _uid(obj) == _uid(mine) and 0 <= _rv(obj) < _rv(mine):
            return mine
        del self._written[key]
        return obj

    def _remember_write(self, key: str, read: Obj, stored: Obj) -> None:
        """Keep ``stored`` (the status write's response) in the overlay when it is newer than both
        the object this reconcile read and what the cache holds now (see :meth:`_read`)."""
        stored = strip_managed_fields(stored)
        if _uid(stored) != _uid(read) or _rv(stored) <= _rv(read):
            return
        now = self.store.get(key)
        if now is None or _uid(now) != _uid(stored) or _rv(now) >= _rv(stored):
            # Deleted meanwhile (never resurrect), replaced, or the watch already delivered it.
            self._written.pop(key, None)
            return
        self._written[key] = stored

    async def reconcile(self, key: str) -> Result:
        obj = self._read(key)
        if obj is None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            return Result()
        obs = await self.observe(obj)
        current = self.current_state(obj)
        decision = self.machine.decide(obs, current)
        requeue: float | None = None
        changed = False
        for effect in decision.effects:
            if isinstance(effect, ApplyChild):
                for child in self.desired(effect.role, obj, obs):
                    changed = await self._apply_child(key, child) or changed
            elif isinstance(effect, DeleteChild):
                for gone in self.deletions(effect.role, obj, obs, effect.name):
                    await self.applier.delete(gone.resource, gone.namespace, gone.name)
            elif isinstance(effect, RequeueAfter):
                requeue = effect.seconds if requeue is None else min(requeue, effect.seconds)
        if changed:  # a refusal recorded or cleared: decide again with it (effects already ran)
            obs = await self.observe(obj)
            decision = self.machine.decide(obs, current)
        status = self.compose_status(obj, obs, decision)
        stored = await self.status_writer.apply_status(self.resource, obj, status)
        if stored is not None:
            self._remember_write(key, obj, stored)
        if decision.transition is not None:
            await self._report_transition(obj, decision)
        return Result(requeue_after=requeue)

    async def _apply_child(self, key: str, child: Desired) -> bool:
        """Apply one child; True if an admission refusal of it was recorded or cleared (see
        :meth:`refused`). Any other error, or a refusal the kind does not report, propagates."""
        try:
            await self.applier.apply(child.resource, child.manifest, child.cached, hashed=child.hashed)
        except ApiError as exc:
            if admission_refusal(exc) and self.reports_refusals(child):
                return self.refused(key, child, exc.message)
            raise
        return self.reports_refusals(child) and self.refused(key, child, "")

    def compose_status(self, obj: Obj, obs: Obs, decision: Decision) -> dict[str, Any]:
        """The complete status this decision writes (pure given the clock)."""
        meta = obj.get("metadata") or {}
        generation = int(meta.get("generation") or 0)
        old = obj.get("status") or {}
        status: dict[str, Any] = dict(self.status_fields(obj, obs, decision))
        status.update(decision.status)
        status["status"] = decision.state
        status["observedGeneration"] = generation
        status["conditions"] = merge_conditions(old.get("conditions"), decision.conditions, generation, now_rfc3339())
        return status

    async def _report_transition(self, obj: Obj, decision: Decision) -> None:
        src, dst = decision.transition or ("", "")
        self.metrics.record_transition(self.resource.kind, src, dst)
        declared = [e for e in decision.effects if isinstance(e, EmitEvent)]
        if not declared:
            reason = decision.reason or dst
            message = decision.message or f"{self.resource.kind} is {dst} (was {src})"
            declared = [EmitEvent("Warning" if dst in WARNING_STATES else "Normal", reason, message)]
        for e in declared:
            await self.events.emit(obj, e.type, e.reason, decision.rule, e.message)  # type: ignore[arg-type]


def admission_refusal(exc: ApiError) -> bool:
    """An admission webhook denied the request (the apiserver's "admission webhook ... denied the
    request" answer), as opposed to a transient failure or a conflict."""
    return exc.status in (400, 403, 422) and "admission webhook" in exc.message and "denied the request" in exc.message


def _uid(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _rv(obj: Obj) -> int:
    """The resourceVersion as an integer (-1 when it is not one: then nothing is held back)."""
    try:
        return int(str((obj.get("metadata") or {}).get("resourceVersion") or ""))
    except ValueError:
        return -1
