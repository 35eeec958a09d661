"""The reconcile pipeline every AIM kind runs (``docs/architecture.md``, "The reconcile pipeline").

1. Read the object from the cache (or from this controller's read-your-writes overlay, see
   :meth:`KindController._read`); a vanished object needs nothing (children go by garbage
   collection).
2. :meth:`KindController.observe` builds an immutable observation from the caches only (plus, for
   the two kinds that need them, a pod log or the OCI registry). It takes nothing and writes nothing.
3. :meth:`KindController.reserve` takes the scarce resources this reconcile may use (today only the
   template kinds' discovery-Job slots, see :mod:`aimctl.controllers.discovery_slots`) and returns
   the observation with what was granted. It runs before the decision because the machine's guards
   read the grant ("a slot is free"), and it is synchronous, so nothing can interleave between
   counting and taking.
4. The kind's :class:`~statemachines.engine.KindMachine` decides the next state, conditions, status
   fields and effects.
5. Effects are executed in declaration order: ``ApplyChild(role)`` applies what the :class:`Child`
   declared for that role builds (skipped when the cached child carries the desired manifest's hash
   and every desired field, see :mod:`aimctl.kube.apply`), ``DeleteChild(role)`` deletes what it
   names. Every role a machine's effects name has exactly one declaration in the controller's
   :meth:`KindController.children`; ``tests/unit/controllers/test_child_declarations.py`` checks
   this for every controller, so a missing builder fails a unit test, not a reconcile.
6. :meth:`KindController.release` is told which roles were applied (always, also when a step
   failed), and gives back what :meth:`KindController.reserve` took and did not use.
7. The status (state, conditions with carried-over timestamps, ``observedGeneration``, the declared
   fields) is applied through the status subresource only when it differs from the cached one; the
   answer is kept in this controller's private overlay, never put into the shared cache.
8. On a state change: one event (declared by the rule, or a default one) and one
   ``aim_state_transitions_total`` increment. Never one per reconcile.
9. The smallest declared ``RequeueAfter`` becomes the result.

Failures in step 5 propagate to the manager, which retries with per-key backoff; the status of that
reconcile is not written, so nothing half-done is reported as done. One exception: a child that an
admission webhook refuses (e.g. KServe's validation of an InferenceService) is a verdict on the spec,
not a transient failure; a kind that reports refusals (:meth:`KindController.refused`) records it, and
the reconcile observes and decides again so the status says why (the refused apply is retried on the
next event).

The read-your-writes and apply guarantees are described in ``docs/reconcile.md``.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aimctl.kube.apply import Applier
from aimctl.kube.events import EventRecorder
from aimctl.kube.objects import condition, deleting, dig_list, json_annotation, meta_of, status_of, uid_of
from aimctl.kube.resources import OPTIONAL_APIS
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

ObsT = TypeVar("ObsT")

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


@dataclass(frozen=True)
class Child(Generic[ObsT]):
    """The one declaration of a child role: what the machine calls it, its resource, how to build it
    and how to delete it, from the observation (the fields the builder reads are the ones it observes).

    ``role`` is the string the machine's ``ApplyChild`` / ``DeleteChild`` effects name; ``resource``
    is the child's kind, which the controller must watch (changes to a child wake its owner);
    ``build(obj, obs)`` returns the desired children (needed when the machine applies the role) and
    ``delete(obj, obs, name)`` the ones to delete (needed when it deletes the role; ``name`` is the
    effect's optional narrowing). Both are pure given the observation."""

    role: str
    resource: Resource
    build: Callable[[Obj, ObsT], list[Desired]] | None = None
    delete: Callable[[Obj, ObsT, str], list[Deletion]] | None = None


class UndeclaredChild(LookupError):
    """A machine named a child role the controller does not declare (a programming error that
    ``tests/unit/controllers/test_child_declarations.py`` catches before runtime)."""


class KindController(abc.ABC, Generic[ObsT]):
    """Base of the AIM controllers; subclasses supply the kind-specific parts (see module docstring).

    ``ObsT`` is the controller's observation: the machine's observation type or a subclass of it
    that adds what the builders need, so every hook is type-checked against it."""

    name: str
    resource: Resource
    machine: KindMachine[ObsT]

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

    #: Whether the apiserver does not serve a resource (an optional CRD not installed); the manager
    #: sets it through :meth:`use_api_availability`.
    _api_missing: Callable[[Resource], bool] = staticmethod(lambda _resource: False)

    def use_api_availability(self, api_missing: Callable[[Resource], bool]) -> None:
        self._api_missing = api_missing

    def _installed(self, children: Sequence[Desired], missing: list[Resource]) -> list[Desired]:
        """The children whose API is served; the others' resources are added to ``missing`` (they are
        reported as a condition instead of failing the reconcile; the manager replays every object
        when the API appears)."""
        kept = []
        for child in children:
            if self._api_missing(child.resource):
                if child.resource not in missing:
                    missing.append(child.resource)
            else:
                kept.append(child)
        return kept

    # -- kind-specific -----------------------------------------------------------------------------
    @abc.abstractmethod
    def watches(self) -> Sequence[Watch]: ...

    @abc.abstractmethod
    async def observe(self, obj: Obj) -> ObsT:
        """The observation for one reconcile (cache reads only, except pod logs and the registry)."""

    _declared: dict[str, Child[ObsT]] | None = None

    def children(self) -> Sequence[Child[ObsT]]:
        """Every child role of this kind, declared once (see :class:`Child`); none by default."""
        return ()

    def child(self, role: str) -> Child[ObsT]:
        """The declaration of ``role``; :class:`UndeclaredChild` names the role if there is none."""
        declared = self._declared
        if declared is None:
            declared = self._declared = {c.role: c for c in self.children()}
        try:
            return declared[role]
        except KeyError:
            raise UndeclaredChild(f"{self.name}: no child declaration for role {role!r}") from None

    def desired(self, role: str, obj: Obj, obs: ObsT) -> list[Desired]:
        """The children of ``role`` to apply (for an ``ApplyChild``), from its declaration."""
        build = self.child(role).build
        if build is None:
            raise UndeclaredChild(f"{self.name}: child role {role!r} declares no builder")
        return build(obj, obs)

    def deletions(self, role: str, obj: Obj, obs: ObsT, name: str = "") -> list[Deletion]:
        """The children of ``role`` to delete (for a ``DeleteChild``), from its declaration."""
        delete = self.child(role).delete
        if delete is None:
            raise UndeclaredChild(f"{self.name}: child role {role!r} declares no deletion")
        return delete(obj, obs, name)

    def reserve(self, key: str, obs: ObsT) -> ObsT:
        """Take the scarce resources this reconcile may use and return the observation with what was
        granted (pipeline step 3). Synchronous: no other reconcile runs between counting and taking.
        Nothing to take by default."""
        return obs

    def release(self, key: str, applied: Collection[str]) -> None:
        """Give back what :meth:`reserve` took for ``key`` and the reconcile did not use; ``applied``
        are the roles whose children the reconcile started to apply (a write that failed may still
        have happened, so its reservation is kept). Always called once :meth:`reserve` ran."""

    def reports_refusals(self, child: Desired) -> bool:
        """Whether this kind reports an admission webhook's refusal of ``child`` in its status (then
        it overrides :meth:`refused` and reads the record in :meth:`observe`). By default: no, the
        error propagates like any other."""
        return False

    def refused(self, key: str, child: Desired, message: str) -> bool:
        """Record (``message``) or clear (``""``) the refusal of ``child`` of the object ``key``;
        True if the record changed."""
        return False

    #: The operator-owned annotation that keeps the machine's durable memory (``Decision.memory``, as
    #: JSON) on the object itself, for kinds that must remember what the API status has no field
    #: for; ``None``: the kind remembers nothing beyond its status.
    memory_annotation: str | None = None

    def memory(self, obj: Obj) -> dict[str, Any]:
        """The memory the last decision left on ``obj`` (empty when there is none or it is not a
        JSON object: then the kind starts afresh)."""
        if self.memory_annotation is None:
            return {}
        return json_annotation(obj, self.memory_annotation)

    async def _write_memory(self, key: str, obj: Obj, decision: Decision) -> None:
        """Apply the decision's memory to the object's annotation when it differs (one metadata-only
        server-side apply with this controller's field manager; ``{}`` once the memory is empty)."""
        if self.memory_annotation is None or dict(decision.memory) == self.memory(obj):
            return
        meta = meta_of(obj)
        wanted = json.dumps(dict(decision.memory), sort_keys=True, separators=(",", ":"))
        fragment_meta: dict[str, Any] = {"name": meta["name"], "annotations": {self.memory_annotation: wanted}}
        if meta.get("namespace"):
            fragment_meta["namespace"] = meta["namespace"]
        stored = await self.applier.apply(self.resource, {"metadata": fragment_meta}, obj, hashed=False)
        if stored is not None:
            self._remember_write(key, obj, stored)

    def current_state(self, obj: Obj) -> str | None:
        """The machine state the object is in now: ``status.status`` by default (kinds whose status
        has no ``status`` field derive it from their conditions)."""
        state = status_of(obj).get("status")
        return str(state) if state is not None else None

    def status_fields(self, obj: Obj, obs: ObsT, decision: Decision) -> dict[str, Any]:
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
        if obj is not None and uid_of(obj) == uid_of(mine) and 0 <= _rv(obj) < _rv(mine):
            return mine
        del self._written[key]
        return obj

    def _remember_write(self, key: str, read: Obj, stored: Obj) -> None:
        """Keep ``stored`` (the status write's response) in the overlay when it is newer than both
        the object this reconcile read and what the cache holds now (see :meth:`_read`)."""
        stored = strip_managed_fields(stored)
        if uid_of(stored) != uid_of(read) or _rv(stored) <= _rv(read):
            return
        now = self.store.get(key)
        if now is None or uid_of(now) != uid_of(stored) or _rv(now) >= _rv(stored):
            # Deleted meanwhile (never resurrect), replaced, or the watch already delivered it.
            self._written.pop(key, None)
            return
        self._written[key] = stored

    async def reconcile(self, key: str) -> Result:
        obj = self._read(key)
        if obj is None or deleting(obj):
            return Result()
        obs = self.reserve(key, await self.observe(obj))
        applied: list[str] = []
        try:
            current = self.current_state(obj)
            decision = self.machine.decide(obs, current)
            requeue: float | None = None
            changed = False
            missing: list[Resource] = []
            for effect in decision.effects:
                if isinstance(effect, ApplyChild):
                    applied.append(effect.role)  # before the writes: a failed create may have happened
                    for child in self._installed(self.desired(effect.role, obj, obs), missing):
                        changed = await self._apply_child(key, child) or changed
                elif isinstance(effect, DeleteChild):
                    for gone in self.deletions(effect.role, obj, obs, effect.name):
                        await self.applier.delete(gone.resource, gone.namespace, gone.name)
                elif isinstance(effect, RequeueAfter):
                    requeue = effect.seconds if requeue is None else min(requeue, effect.seconds)
        finally:
            self.release(key, applied)
        if changed:  # a refusal recorded or cleared: decide again with it (effects already ran)
            obs = await self.observe(obj)
            decision = self.machine.decide(obs, current)
        await self._write_memory(key, obj, decision)
        status = self.compose_status(obj, obs, decision)
        _report_missing_apis(status, missing, obj, self.resource.kind)
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

    def compose_status(self, obj: Obj, obs: ObsT, decision: Decision) -> dict[str, Any]:
        """The complete status this decision writes (pure given the clock)."""
        meta = meta_of(obj)
        generation = int(meta.get("generation") or 0)
        old = status_of(obj)
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


def _report_missing_apis(status: dict[str, Any], missing: Sequence[Resource], obj: Obj, kind: str) -> None:
    """Add an ``APIsInstalled`` condition (False) naming each API this object needs and the cluster
    does not serve; without missing APIs there is no such condition."""
    if not missing:
        return
    names = []
    for r in missing:
        product = OPTIONAL_APIS.get(r.group, r.group)
        names.append(f"the {product} API ({r.api_version} {r.plural})")
    reason = "".join(OPTIONAL_APIS.get(r.group, "API").replace(" ", "") for r in missing[:1]) + "NotInstalled"
    message = (
        f"{' and '.join(names)} {'is' if len(names) == 1 else 'are'} not installed in the cluster, so this "
        f"{kind} cannot create its {', '.join(r.kind for r in missing)}; install it: the operator picks it up "
        f"without a restart"
    )
    prev = condition(obj, "APIsInstalled", "False")
    since = prev.get("lastTransitionTime") if prev else None
    generation = int(meta_of(obj).get("generation") or 0)
    installed = {
        "type": "APIsInstalled",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": since or now_rfc3339(),
        "observedGeneration": generation,
    }
    status["conditions"] = [*dig_list(status, "conditions"), installed]


def _rv(obj: Obj) -> int:
    """The resourceVersion as an integer (-1 when it is not one: then nothing is held back)."""
    try:
        return int(str(meta_of(obj).get("resourceVersion") or ""))
    except ValueError:
        return -1
