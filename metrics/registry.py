"""The operator's Prometheus metrics (``docs/architecture.md``, "Observability"), in one registry.

Why these names: dashboards and alerts written for controller-runtime operators keep working —
``workqueue_*`` and ``controller_runtime_*`` are controller-runtime's names and label sets
(``pkg/metrics/workqueue.go``, ``pkg/internal/controller/metrics/metrics.go``), and
``leader_election_master_status`` is client-go's. The AIM-specific ones are prefixed ``aim_``.

Metrics (all in :data:`METRIC_NAMES`):

=============================================== ========= =========================================
name                                            type      labels
=============================================== ========= =========================================
aim_resources                                   gauge     kind, namespace, state — computed from the
                                                          informer stores *at scrape time*, so it
                                                          cannot drift from the cache
aim_state_transitions_total                     counter   kind, from, to
controller_runtime_reconcile_total              counter   controller, result (success, error,
                                                          requeue, requeue_after)
controller_runtime_reconcile_errors_total       counter   controller
controller_runtime_terminal_reconcile_errors_   counter   controller
total
controller_runtime_reconcile_time_seconds       histogram controller
controller_runtime_active_workers               gauge     controller
controller_runtime_max_concurrent_reconciles    gauge     controller
workqueue_depth                                 gauge     name (scrape time)
workqueue_adds_total                            counter   name
workqueue_queue_duration_seconds                histogram name
workqueue_work_duration_seconds                 histogram name
workqueue_retries_total                         counter   name
workqueue_unfinished_work_seconds               gauge     name (scrape time)
workqueue_longest_running_processor_seconds     gauge     name (scrape time)
aim_api_requests_total                          counter   verb, resource, code
aim_api_request_duration_seconds                histogram verb
leader_election_master_status                   gauge     name (1 while leading)
aim_informer_synced                             gauge     resource
aim_informer_relists_total                      counter   resource (scrape time)
aim_informer_watch_restarts_total               counter   resource (scrape time)
aim_event_loop_lag_seconds                      histogram (none): how late a 100 ms timer fired
aim_event_loop_lag_max_seconds                  gauge     (none): the largest lag since the start
aim_event_loop_lag_max_cpu_seconds              gauge     (none): CPU time used during that largest lag
aim_gc_pause_seconds                            histogram generation: each garbage collection's length
=============================================== ========= =========================================

Label sets of the per-controller and per-queue metrics are pre-created with zero when a controller
or queue is registered, so dashboards show no gaps.

Scrape-time callbacks run in the event loop (the metrics server is an anyio server in the same loop),
so they may read the stores without locking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

METRIC_NAMES = (
    "aim_resources",
    "aim_state_transitions_total",
    "controller_runtime_reconcile_total",
    "controller_runtime_reconcile_errors_total",
    "controller_runtime_terminal_reconcile_errors_total",
    "controller_runtime_reconcile_time_seconds",
    "controller_runtime_active_workers",
    "controller_runtime_max_concurrent_reconciles",
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_retries_total",
    "workqueue_unfinished_work_seconds",
    "workqueue_longest_running_processor_seconds",
    "aim_api_requests_total",
    "aim_api_request_duration_seconds",
    "leader_election_master_status",
    "aim_informer_synced",
    "aim_informer_relists_total",
    "aim_informer_watch_restarts_total",
    "aim_event_loop_lag_seconds",
    "aim_event_loop_lag_max_seconds",
    "aim_event_loop_lag_max_cpu_seconds",
    "aim_gc_pause_seconds",
)
"""Every metric name this registry exposes (the ``/metrics`` test checks them all)."""

#: Event-loop lag: 1 ms … 10 s (a lease renewal must finish within the 10 s renew deadline).
LOOP_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

RECONCILE_RESULTS = ("success", "error", "requeue", "requeue_after")

# controller-runtime's buckets: reconcile time 5 ms … 60 s; workqueue 1 µs … 1000 s (x10).
RECONCILE_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.6,
    0.7,
    0.8,
    0.9,
    1.0,
    1.25,
    1.5,
    1.75,
    2.0,
    2.5,
    3.0,
    3.5,
    4.0,
    4.5,
    5,
    6,
    7,
    8,
    9,
    10,
    15,
    20,
    25,
    30,
    40,
    50,
    60,
)
WORKQUEUE_BUCKETS = tuple(10.0**e for e in range(-6, 4))
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

StateCount = tuple[str, str, str, int]
"""``(kind, namespace, state, count)`` as returned by a resource-state source."""


@dataclass(frozen=True)
class QueueGauges:
    """What a work queue reports at scrape time (mirrors ``informers.workqueue.QueueStats``)."""

    depth: float
    unfinished_work_seconds: float
    longest_running_processor_seconds: float


@dataclass(frozen=True)
class InformerGauges:
    synced: bool
    relists: int
    watch_restarts: int


class _ScrapeTimeCollector(Collector):
    """Families computed from callbacks at scrape time."""

    def __init__(self) -> None:
        self.state_sources: list[Callable[[], Iterable[StateCount]]] = []
        self.queues: dict[str, Callable[[], QueueGauges]] = {}
        self.informers: dict[str, Callable[[], InformerGauges]] = {}

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        resources = GaugeMetricFamily(
            "aim_resources",
            "AIM resources by kind, namespace and state (from the informer caches).",
            labels=["kind", "namespace", "state"],
        )
        totals: dict[tuple[str, str, str], int] = {}
        for source in self.state_sources:
            for kind, namespace, state, count in source():
                key = (kind, namespace, state)
                totals[key] = totals.get(key, 0) + count
        for key, count in sorted(totals.items()):
            resources.add_metric(list(key), count)
        depth, unfinished, longest = self._queue_families()
        for name, stats in sorted(self.queues.items()):
            s = stats()
            depth.add_metric([name], s.depth)
            unfinished.add_metric([name], s.unfinished_work_seconds)
            longest.add_metric([name], s.longest_running_processor_seconds)
        synced, relists, restarts = self._informer_families()
        for name, inf in sorted(self.informers.items()):
            i = inf()
            synced.add_metric([name], 1.0 if i.synced else 0.0)
            relists.add_metric([name], i.relists)
            restarts.add_metric([name], i.watch_restarts)
        yield from (resources, depth, unfinished, longest, synced, relists, restarts)

    def _families(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("aim_resources", "", labels=["kind", "namespace", "state"])
        yield from self._queue_families()
        yield from self._informer_families()

    @staticmethod
    def _queue_families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"]),
            GaugeMetricFamily(
                "workqueue_unfinished_work_seconds",
                "How many seconds of work has been done that is in progress and hasn't been observed by "
                "work_duration. Large values indicate stuck threads.",
                labels=["name"],
            ),
            GaugeMetricFamily(
                "workqueue_longest_running_processor_seconds",
                "How many seconds has the longest running processor for workqueue been running.",
                labels=["name"],
            ),
        )

    @staticmethod
    def _informer_families() -> tuple[GaugeMetricFamily, CounterMetricFamily, CounterMetricFamily]:
        return (
            GaugeMetricFamily(
                "aim_informer_synced", "1 once the informer completed its first list.", labels=["resource"]
            ),
            CounterMetricFamily(
                "aim_informer_relists",
                "Full relists after the first (410 Gone, too-large RV).",
                labels=["resource"],
            ),
            CounterMetricFamily(
                "aim_informer_watch_restarts",
                "Watches that ended normally and were resumed from the last resourceVersion.",
                labels=["resource"],
            ),
        )


class QueueSink:
    """Receives the work queue's hooks (structurally an ``informers.workqueue.QueueMetricsSink``)."""

    def __init__(self, metrics: OperatorMetrics, name: str) -> None:
        self._adds = metrics.workqueue_adds.labels(name)
        self._retries = metrics.workqueue_retries.labels(name)
        self._queue_duration = metrics.workqueue_queue_duration.labels(name)
        self._work_duration = metrics.workqueue_work_duration.labels(name)

    def on_add(self) -> None:
        self._adds.inc()

    def on_retry(self) -> None:
        self._retries.inc()

    def on_get(self, queued_seconds: float) -> None:
        self._queue_duration.observe(queued_seconds)

    def on_done(self, work_seconds: float) -> None:
        self._work_duration.observe(work_seconds)


class ApiRequestObserver:
    """Counts API requests (structurally an ``informers.rest.RequestObserver``)."""

    def __init__(self, metrics: OperatorMetrics) -> None:
        self._metrics = metrics

    def observe(self, verb: str, resource: str, code: str, seconds: float) -> None:
        self._metrics.api_requests.labels(verb, resource, code).inc()
        self._metrics.api_request_duration.labels(verb).observe(seconds)


class OperatorMetrics:
    """Creates every collector in ``registry`` (a fresh one by default, so tests do not collide)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.transitions = Counter(
            "aim_state_transitions_total",
            "State transitions of AIM resources.",
            ["kind", "from", "to"],
            registry=r,
        )
        self.reconcile_total = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=r,
        )
        self.reconcile_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=r,
        )
        self.terminal_reconcile_errors = Counter(
            "controller_runtime_terminal_reconcile_errors_total",
            "Total number of terminal reconciliation errors per controller",
            ["controller"],
            registry=r,
        )
        self.reconcile_time = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self.active_workers = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=r,
        )
        self.max_concurrent_reconciles = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=r,
        )
        self.workqueue_adds = Counter(
            "workqueue_adds_total", "Total number of adds handled by workqueue", ["name"], registry=r
        )
        self.workqueue_retries = Counter(
            "workqueue_retries_total", "Total number of retries handled by workqueue", ["name"], registry=r
        )
        self.workqueue_queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            ["name"],
            buckets=WORKQUEUE_BUCKETS,
            registry=r,
        )
        self.workqueue_work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            ["name"],
            buckets=WORKQUEUE_BUCKETS,
            registry=r,
        )
        self.api_requests = Counter(
            "aim_api_requests_total",
            "Requests to the Kubernetes API by verb, resource and HTTP code ('<error>' when no answer arrived).",
            ["verb", "resource", "code"],
            registry=r,
        )
        self.api_request_duration = Histogram(
            "aim_api_request_duration_seconds",
            "Latency of Kubernetes API requests (watches: until the stream opened).",
            ["verb"],
            buckets=API_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "leader_election_master_status",
            "1 while this process holds the leader lease, else 0.",
            ["name"],
            registry=r,
        )
        self.loop_lag = Histogram(
            "aim_event_loop_lag_seconds",
            "How late the event loop ran a 100 ms timer (a synchronous step that long delays every request, "
            "lease renewals included).",
            buckets=LOOP_LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_max = Gauge(
            "aim_event_loop_lag_max_seconds", "The largest event-loop lag seen since the process started.", registry=r
        )
        self.loop_lag_max_cpu = Gauge(
            "aim_event_loop_lag_max_cpu_seconds",
            "CPU time the process used during the largest event-loop lag (close to the lag: a synchronous "
            "step of the process; far below it: the process waited for a core).",
            registry=r,
        )
        self.gc_pause = Histogram(
            "aim_gc_pause_seconds",
            "Length of each garbage collection by generation (a full collection, generation 2, stops the "
            "event loop for its whole length).",
            ["generation"],
            buckets=LOOP_LAG_BUCKETS,
            registry=r,
        )
        self._scrape = _ScrapeTimeCollector()
        r.register(self._scrape)
        self.api_observer = ApiRequestObserver(self)
        self._loop_lag_max = 0.0

    # -- registration ------------------------------------------------------------------------------

    def register_controller(self, name: str, workers: int) -> None:
        """Pre-create the label sets of a controller so every series exists from the start."""
        for result in RECONCILE_RESULTS:
            self.reconcile_total.labels(name, result)
        self.reconcile_errors.labels(name)
        self.terminal_reconcile_errors.labels(name)
        self.reconcile_time.labels(name)
        self.active_workers.labels(name).set(0)
        self.max_concurrent_reconciles.labels(name).set(workers)

    def queue_sink(self, name: str) -> QueueSink:
        """The hooks for the work queue ``name`` (pre-creates its label sets)."""
        return QueueSink(self, name)

    def add_queue(self, name: str, stats: Callable[[], QueueGauges]) -> None:
        """Register the scrape-time gauges (depth, unfinished, longest running) of queue ``name``."""
        self._scrape.queues[name] = stats

    def add_resource_state_source(self, source: Callable[[], Iterable[StateCount]]) -> None:
        """Add a scrape-time source of ``(kind, namespace, state, count)`` for ``aim_resources``."""
        self._scrape.state_sources.append(source)

    def add_informer(self, resource: str, stats: Callable[[], InformerGauges]) -> None:
        self._scrape.informers[resource] = stats

    def observe_loop_lag(self, seconds: float, cpu: float = 0.0) -> None:
        """One sample of the event loop's lag and of the process's CPU time meanwhile (see
        :func:`metrics.looplag.probe_loop_lag`)."""
        self.loop_lag.observe(seconds)
        if seconds > self._loop_lag_max:
            self._loop_lag_max = seconds
            self.loop_lag_max.set(seconds)
            self.loop_lag_max_cpu.set(cpu)

    def observe_gc_pause(self, generation: int, seconds: float) -> None:
        """One garbage collection's length (see :class:`metrics.looplag.GcPauses`)."""
        self.gc_pause.labels(str(generation)).observe(seconds)

    def set_leader(self, name: str, leading: bool) -> None:
        self.leader.labels(name).set(1 if leading else 0)

    def record_transition(self, kind: str, from_state: str, to_state: str) -> None:
        self.transitions.labels(kind, from_state, to_state).inc()
