"""The manager: wires informers, work queues, workers, leader election and the metrics server.

Why: controllers should only describe what they watch and how they reconcile
(:mod:`aimctl.reconcile`); running them correctly — shared caches, one queue per controller, N workers,
retries, metrics, log context, leadership, shutdown order — is the same for all and lives here.

Lifecycle of :meth:`Manager.run` (one anyio task group; nothing outlives it):
    1. start the ``/metrics`` and ``/healthz``+``/readyz`` servers;
    2. start every informer — on *every* replica, leader or not, so a follower's cache is warm when it
       takes over (controller-runtime's warm-up); ``/readyz`` turns 200 when all have synced, and if
       they do not within ``cache_sync_timeout`` (2 min) the run fails with :class:`CacheSyncTimeout`.
       An *optional* API that is not installed (KServe, Gateway API: :data:`OPTIONAL_APIS`) does not
       hold the sync up: its informer is empty, one warning names it, ``/readyz`` lists it (still
       200), controllers report it on the objects that need it, and when it is installed the
       informer fills and every cached object is replayed to the controllers (no restart). A missing
       *required* API (the AIM CRDs) is logged as an error and holds the sync up as before;
    3. with leader election, wait for the lease; then start the workers (``workers`` per controller,
       default 1);
    4. on :meth:`request_stop` (SIGTERM): stop handing out keys, let in-flight reconciles finish for
       at most ``drain_timeout`` (20 s), release the lease, stop informers and servers — all within
       ``shutdown_timeout`` (30 s, the pod's default grace period);
    5. if the lease cannot be renewed, the manager *steps down* and stays up as a follower: the
       controllers' client refuses writes from the moment the lease may have been taken (it carries
       the elector's write fence, see :mod:`informers.leaderelection`); then every worker is
       cancelled and awaited (nothing that writes outlives the term), while the informers, caches,
       queues and probe servers keep running; the process campaigns again, and when it re-acquires
       the lease it starts the workers anew after replaying every cached object to the controllers
       (a full requeue: the reconciles cancelled at the step-down, and whatever another leader did
       meanwhile, are all looked at again). ``/healthz`` stays 200 throughout and ``/readyz`` stays
       200 too (a follower with synced caches is a ready standby); ``leader_election_master_status``
       follows the lease. The elector has a client of its own (own connections, own token bucket, no
       write slots) so renewals never wait behind reconcile writes nor for a connection of their pool.

Events from an informer's initial list (and resyncs) are enqueued at low priority, every other event
at normal priority, so new and changed objects are served first after a start or a failover.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio
import structlog

from aimctl.kube.events import EventRecorder
from aimctl.kube.objects import namespace_of, status_of
from aimctl.kube.resources import AIM_RESOURCES, OPTIONAL_APIS
from aimctl.reconcile import Controller, Result, TerminalError, Watch
from informers.cache import Cache
from informers.handlers import Handler, InformerEvent
from informers.informer import Informer
from informers.leaderelection import LeaderElectionConfig, LeaderElector
from informers.ratelimit import AsyncTokenBucket
from informers.resource import Resource
from informers.rest import RestClient
from informers.store import Obj, split_key
from informers.workqueue import Priority, WorkQueue
from metrics.looplag import GcPauses, probe_loop_lag
from metrics.registry import InformerGauges, OperatorMetrics, QueueGauges, StateCount
from metrics.server import ALL_ROUTES, ProbeServer, parse_address
from statemachines.runtimeconfig import state_from_conditions

log = structlog.get_logger("aimctl.manager")


class CacheSyncTimeout(Exception):
    """The informers did not complete their first list within ``cache_sync_timeout``."""


@dataclass
class ManagerConfig:
    """Everything :class:`Manager` needs to know; defaults are the documented ones."""

    namespaces: list[str] | None = None
    """Namespaces to watch; ``None`` or empty means the whole cluster."""
    default_workers: int = 1
    """Workers per controller unless ``workers`` names the controller (controller-runtime: 1)."""
    workers: dict[str, int] = field(default_factory=dict)
    leader_election: bool = True
    leader_election_namespace: str = "default"
    leader_election_id: str = "aimctl.aim.silogen.ai"
    leader_election_identity: str | None = None
    metrics_address: str | None = ":8080"
    """``host:port`` of ``/metrics``; ``None`` disables it."""
    probe_address: str | None = ":8081"
    """``host:port`` of ``/healthz`` and ``/readyz``; ``None`` disables it. May equal the metrics one."""
    cache_sync_timeout: float = 120.0
    reconcile_timeout: float = 120.0
    drain_timeout: float = 20.0
    shutdown_timeout: float = 30.0
    watch_inactivity_timeout: float = 90.0
    leader_election_qps: float = 10.0
    """The elector's own token bucket (a renewal is a GET and a PUT every 2 s)."""

    def workers_for(self, controller: str) -> int:
        return max(1, self.workers.get(controller, self.default_workers))


class Manager:
    """Runs controllers; see the module docstring."""

    def __init__(self, client: RestClient, config: ManagerConfig, metrics: OperatorMetrics | None = None) -> None:
        #: The controllers' client: with leader election, writes pass the elector's fence.
        self.client = client.sibling(write_fence=self._write_time_left) if config.leader_election else client
        self._raw_client = client
        self.config = config
        self.metrics = metrics or OperatorMetrics()
        self.cache = Cache(
            client,
            config.namespaces or None,
            optional_api=lambda r: r.group in OPTIONAL_APIS,
            inactivity_timeout=config.watch_inactivity_timeout,
        )
        self.cache.api_listeners.append(self._api_changed)
        self._reported_missing: set[str] = set()
        self.controllers: list[Controller] = []
        self.queues: dict[str, WorkQueue[str]] = {}
        self.synced = False
        self.leading = False
        #: Leadership terms this process has begun (``_lead`` calls): more than 1 after a step-down.
        self.terms = 0
        self.elector: LeaderElector | None = None
        self.servers: list[ProbeServer] = []
        self._stop: anyio.Event | None = None
        self._stop_requested = False
        self._election_scope: anyio.CancelScope | None = None

    def _write_time_left(self) -> float:
        """The write fence of :attr:`client`: no writes before the lease is held or once it may be lost."""
        return self.elector.write_time_left() if self.elector is not None else 0.0

    # -- optional APIs -------------------------------------------------------------------------------

    def api_missing(self, resource: Resource) -> bool:
        """Whether ``resource`` is watched and the apiserver does not serve it (yet)."""
        return self.cache.api_missing(resource)

    def missing_api_details(self) -> list[str]:
        """One line per missing API, for ``/readyz`` and the logs."""
        return [describe_missing_api(r) for r in self.cache.missing_apis()]

    def _api_changed(self, informer: Informer) -> None:
        """One log line per API group when it goes missing and one when it is back (however many
        of its kinds and namespaces are watched); a returning API replays every cached object."""
        group = informer.resource.group
        missing = [r for r in self.cache.missing_apis() if r.group == group]
        if informer.api_missing:
            if group not in self._reported_missing:
                self._reported_missing.add(group)
                level = log.warning if group in OPTIONAL_APIS else log.error
                level(describe_missing_api(informer.resource), api_group=group)
            return
        if not missing and group in self._reported_missing:
            self._reported_missing.discard(group)
            log.info(
                f"{OPTIONAL_APIS.get(group, group)} API installed; reconciling what waited for it", api_group=group
            )
        # Objects that needed the API were reported, not retried: replay everything (no API call).
        self.cache.resync()

    # -- registration ------------------------------------------------------------------------------

    def add(self, controller: Controller) -> None:
        """Register a controller: create its queue and hook its watches into the shared informers."""
        if controller.name in self.queues:
            raise ValueError(f"controller name {controller.name!r} is already registered")
        queue: WorkQueue[str] = WorkQueue(controller.name, metrics=self.metrics.queue_sink(controller.name))
        self.metrics.add_queue(controller.name, functools.partial(_queue_gauges, queue))
        self.queues[controller.name] = queue
        self.controllers.append(controller)
        use = getattr(controller, "use_api_availability", None)
        if use is not None:
            use(self.api_missing)
        self.metrics.register_controller(controller.name, self.config.workers_for(controller.name))
        for watch in controller.watches():
            informer = self.cache.informer(watch.resource, watch.transform, watch.selections)
            for index_name, fn in watch.indexers.items():
                informer.add_indexer(index_name, fn)
            informer.add_handler(self._enqueuer(controller.name, queue, watch))

    def _enqueuer(self, controller: str, queue: WorkQueue[str], watch: Watch) -> Handler:
        def handle(event: InformerEvent) -> None:
            priority = Priority.LOW if event.initial else Priority.NORMAL
            for key in watch.map(event):
                queue.add(key, priority)

        return handle

    # -- running -----------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Begin a graceful shutdown (idempotent; safe to call from a signal-handling task)."""
        self._stop_requested = True
        if self._stop is not None:
            self._stop.set()
        if not self.leading and self._election_scope is not None:
            self._election_scope.cancel()

    @property
    def ready(self) -> bool:
        return self.synced

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until :meth:`request_stop` (returns) or until the caches fail to sync (raises
        :class:`CacheSyncTimeout`); a lost lease is a step-down, never an exit (see the module docstring)."""
        if self._stop is None:
            self._stop = anyio.Event()
            if self._stop_requested:
                self._stop.set()
        self._register_scrape_sources()
        gc_pauses = GcPauses(self.metrics.observe_gc_pause)
        sync_timeout = False
        try:
            async with anyio.create_task_group() as tg:
                await self._start_servers(tg)
                tg.start_soon(self.cache.run, name="cache")
                tg.start_soon(probe_loop_lag, self.metrics.observe_loop_lag, name="loop-lag")
                gc_pauses.install()
                task_status.started()
                # Cancelled by request_stop() while not leading: stopping before the caches synced
                # or while waiting for the lease needs no drain.
                with anyio.CancelScope() as self._election_scope:
                    if self._stop_requested:
                        self._election_scope.cancel()
                    try:
                        await self._wait_synced()
                    except CacheSyncTimeout:
                        sync_timeout = True
                    else:
                        if self.config.leader_election:
                            self.elector = self._new_elector()
                            try:
                                await self.elector.run(self._lead)
                            finally:
                                with anyio.CancelScope(shield=True):
                                    await self.elector.client.close()
                        else:
                            await self._lead()
                tg.cancel_scope.cancel()
        finally:
            gc_pauses.uninstall()
            self.synced = False
        if sync_timeout:
            raise CacheSyncTimeout(f"caches did not sync within {self.config.cache_sync_timeout}s")

    async def _start_servers(self, tg: anyio.abc.TaskGroup) -> None:
        cfg = self.config
        addresses: dict[str, set[str]] = {}
        if cfg.metrics_address:
            addresses.setdefault(cfg.metrics_address, set()).add("/metrics")
        if cfg.probe_address:
            addresses.setdefault(cfg.probe_address, set()).update({"/healthz", "/readyz"})
        for address, routes in addresses.items():
            host, port = parse_address(address)
            server = ProbeServer(
                self.metrics.registry,
                host,
                port,
                ready=lambda: self.ready,
                ready_detail=self.missing_api_details,
                routes=routes if routes != ALL_ROUTES else ALL_ROUTES,
            )
            self.servers.append(server)
            await tg.start(server.serve, name=f"http:{address}")
            log.info("serving", address=f"{host}:{server.port}", paths=sorted(routes))

    async def _wait_synced(self) -> None:
        start = time.monotonic()
        with anyio.move_on_after(self.config.cache_sync_timeout) as scope:
            await self.cache.wait_synced()
        if scope.cancelled_caught:
            pending = [i.resource.name for i in self.cache if not i.has_synced]
            missing = [describe_missing_api(i.resource) for i in self.cache if i.api_missing and not i.has_synced]
            log.error("caches did not sync", pending=pending, missing=missing, timeout=self.config.cache_sync_timeout)
            raise CacheSyncTimeout(str(pending))
        self.synced = True
        log.info(
            "caches synced", informers=[i.resource.name for i in self.cache], seconds=round(time.monotonic() - start, 3)
        )

    def _new_elector(self) -> LeaderElector:
        cfg = self.config
        le_cfg = LeaderElectionConfig(namespace=cfg.leader_election_namespace, name=cfg.leader_election_id)
        if cfg.leader_election_identity:
            le_cfg.identity = cfg.leader_election_identity
        # The elector's client: its own connections, its own token bucket, no write slots, no fence
        # (closed by the caller once the elector has returned).
        election_client = self._raw_client.sibling(
            limiter=AsyncTokenBucket(cfg.leader_election_qps, 2 * max(1, int(cfg.leader_election_qps))),
            max_inflight_writes=None,
            write_fence=None,
            own_connections=True,
        )
        return LeaderElector(
            election_client, le_cfg, on_change=lambda leading: self.metrics.set_leader(cfg.leader_election_id, leading)
        )

    async def _lead(self) -> None:
        """Run the workers until a stop is requested, then drain them (bounded); cancelled (and
        awaited) by the elector when the lease is lost. A term after the first begins with a full
        requeue from the caches."""
        assert self._stop is not None
        self.terms += 1
        if self.terms > 1:
            # Reconciles cancelled at the step-down were dropped from the queues, and another leader
            # may have acted meanwhile: every controller looks at every cached object again —
            # yielding between batches, so the lease renewals of the new term run meanwhile.
            await self.cache.resync_yielding()
        self.leading = True
        if not self.config.leader_election:
            self.metrics.set_leader(self.config.leader_election_id, True)
        try:
            # The deadline is set once a stop is requested: workers then finish their current key
            # and exit (the queues return None); whatever still runs at the deadline is cancelled.
            with anyio.CancelScope() as drain:
                async with anyio.create_task_group() as workers:
                    # Events are posted off the reconcile's critical path by each controller's
                    # recorder, beside the workers: cancelled with them when leadership ends.
                    recorders = [
                        r for c in self.controllers if isinstance(r := getattr(c, "events", None), EventRecorder)
                    ]
                    for recorder in recorders:
                        await workers.start(recorder.run)
                    for controller in self.controllers:
                        queue = self.queues[controller.name]
                        for i in range(self.config.workers_for(controller.name)):
                            workers.start_soon(self._worker, controller, queue, name=f"worker:{controller.name}:{i}")
                    log.info(
                        "workers started",
                        controllers={c.name: self.config.workers_for(c.name) for c in self.controllers},
                    )
                    await self._stop.wait()
                    log.info("stopping: draining workers", timeout=self.config.drain_timeout)
                    for queue in self.queues.values():
                        queue.shutdown()
                    for recorder in recorders:
                        recorder.close()  # the queued events are posted; later ones are posted inline
                    drain.deadline = anyio.current_time() + self.config.drain_timeout
            if drain.cancelled_caught:
                log.warning("drain timed out; in-flight reconciles were cancelled")
        finally:
            self.leading = False
            if not self.config.leader_election:
                self.metrics.set_leader(self.config.leader_election_id, False)

    async def _worker(self, controller: Controller, queue: WorkQueue[str]) -> None:
        while (key := await queue.get()) is not None:
            try:
                await self._process(controller, queue, key)
            finally:
                queue.done(key)

    async def _process(self, controller: Controller, queue: WorkQueue[str], key: str) -> None:
        name = controller.name
        namespace, obj_name = split_key(key)
        m = self.metrics
        with structlog.contextvars.bound_contextvars(
            controller=name, namespace=namespace or "", name=obj_name, reconcile_id=str(uuid.uuid4())
        ):
            m.active_workers.labels(name).inc()
            start = time.perf_counter()
            try:
                with anyio.fail_after(self.config.reconcile_timeout):
                    result = await controller.reconcile(key)
            except TerminalError as exc:
                queue.forget(key)
                m.reconcile_total.labels(name, "error").inc()
                m.reconcile_errors.labels(name).inc()
                m.terminal_reconcile_errors.labels(name).inc()
                log.error("reconcile failed terminally; not retrying", error=str(exc))
            except Exception as exc:
                delay = queue.add_rate_limited(key)
                m.reconcile_total.labels(name, "error").inc()
                m.reconcile_errors.labels(name).inc()
                log.error(
                    "reconcile failed; retrying",
                    error=f"{type(exc).__name__}: {exc}",
                    retry_in=round(delay, 3),
                    retries=queue.num_requeues(key),
                    exc_info=True,
                )
            else:
                self._handle_result(name, queue, key, result)
            finally:
                m.reconcile_time.labels(name).observe(time.perf_counter() - start)
                m.active_workers.labels(name).dec()

    def _handle_result(self, name: str, queue: WorkQueue[str], key: str, result: Result) -> None:
        m = self.metrics
        if result.requeue_after is not None and result.requeue_after > 0:
            queue.forget(key)
            queue.add_after(key, result.requeue_after)
            m.reconcile_total.labels(name, "requeue_after").inc()
        elif result.requeue:
            queue.add_rate_limited(key)
            m.reconcile_total.labels(name, "requeue").inc()
        else:
            queue.forget(key)
            m.reconcile_total.labels(name, "success").inc()

    # -- metrics sources ---------------------------------------------------------------------------

    def _register_scrape_sources(self) -> None:
        self.metrics.add_resource_state_source(self._resource_states)
        for informer in self.cache:
            self.metrics.add_informer(informer.resource.name, functools.partial(_informer_gauges, informer))
        self.metrics.set_leader(self.config.leader_election_id, False)

    def _resource_states(self) -> Iterable[StateCount]:
        """``aim_resources``: AIM objects in the caches by kind, namespace and ``status.status``
        (``Pending`` until the first status is written)."""
        for resource in AIM_RESOURCES:
            try:
                store = self.cache.store(resource)
            except KeyError:
                continue
            counts: Counter[tuple[str, str]] = Counter()
            for obj in store:
                ns = namespace_of(obj) or ""
                state = _state_of(obj)
                counts[(ns, str(state))] += 1
            for (ns, state), n in counts.items():
                yield resource.kind, ns, state, n


def describe_missing_api(resource: Resource) -> str:
    """``"KServe API not installed: serving.kserve.io/v1beta1 inferenceservices ..."``."""
    name = OPTIONAL_APIS.get(resource.group)
    what = f"{resource.api_version} {resource.plural}"
    if name is None:
        return f"required API not installed: {what}; install the AIM CRDs (deploy/crds)"
    return (
        f"{name} API not installed: {resource.group} ({what}, ...) is not served; objects that need it "
        f"report it in their conditions, and it is picked up without a restart once installed"
    )


def _state_of(obj: Obj) -> str:
    """An AIM object's state for ``aim_resources``: ``status.status``; for the runtime-config kinds,
    whose status has no such field, the state their machine records through the Ready condition
    (Valid/Invalid); ``Pending`` before the first status write."""
    status = status_of(obj)
    return str(status.get("status") or state_from_conditions(status.get("conditions")) or "Pending")


def _queue_gauges(queue: WorkQueue[str]) -> QueueGauges:
    s = queue.stats()
    return QueueGauges(s.depth, s.unfinished_work_seconds, s.longest_running_processor_seconds)


def _informer_gauges(informer: Informer) -> InformerGauges:
    return InformerGauges(
        synced=informer.has_synced,
        relists=sum(r.relists for r in informer.reflectors),
        watch_restarts=sum(r.watch_restarts for r in informer.reflectors),
    )
