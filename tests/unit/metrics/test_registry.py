"""The metrics registry: every name of METRIC_NAMES exposed, pre-created label sets, scrape-time gauges."""

from __future__ import annotations

from prometheus_client.exposition import generate_latest

from metrics.registry import METRIC_NAMES, InformerGauges, OperatorMetrics, QueueGauges

DESIGN_SECTION_7 = (
    "aim_resources",
    "aim_state_transitions_total",
    "controller_runtime_reconcile_time_seconds",
    "controller_runtime_reconcile_errors_total",
    "workqueue_depth",
    "workqueue_adds_total",
    "workqueue_queue_duration_seconds",
    "workqueue_work_duration_seconds",
    "workqueue_retries_total",
    "workqueue_longest_running_processor_seconds",
    "aim_api_requests_total",
    "leader_election_master_status",
)


def exposition(m: OperatorMetrics) -> str:
    return generate_latest(m.registry).decode()


def test_every_listed_name_is_exposed_even_before_use() -> None:
    text = exposition(OperatorMetrics())
    for name in METRIC_NAMES:
        assert f"# HELP {name} " in text, name
    assert set(DESIGN_SECTION_7) <= set(METRIC_NAMES)


def test_controller_label_sets_are_precreated() -> None:
    m = OperatorMetrics()
    m.register_controller("aimservice", 4)
    m.queue_sink("aimservice")
    text = exposition(m)
    for result in ("success", "error", "requeue", "requeue_after"):
        assert f'controller_runtime_reconcile_total{{controller="aimservice",result="{result}"}} 0.0' in text
    assert 'controller_runtime_max_concurrent_reconciles{controller="aimservice"} 4.0' in text
    assert 'workqueue_adds_total{name="aimservice"} 0.0' in text


def test_scrape_time_sources() -> None:
    m = OperatorMetrics()
    states = [("AIMService", "ns1", "Ready", 2), ("AIMService", "ns1", "Pending", 1)]
    m.add_resource_state_source(lambda: iter(states))
    m.add_resource_state_source(lambda: [("AIMService", "ns1", "Ready", 3)])
    m.add_queue("aimservice", lambda: QueueGauges(7, 1.5, 0.5))
    m.add_informer("pods", lambda: InformerGauges(True, 2, 5))
    text = exposition(m)
    assert 'aim_resources{kind="AIMService",namespace="ns1",state="Ready"} 5.0' in text
    assert 'aim_resources{kind="AIMService",namespace="ns1",state="Pending"} 1.0' in text
    assert 'workqueue_depth{name="aimservice"} 7.0' in text
    assert 'workqueue_longest_running_processor_seconds{name="aimservice"} 0.5' in text
    assert 'aim_informer_synced{resource="pods"} 1.0' in text
    assert 'aim_informer_relists_total{resource="pods"} 2.0' in text
    states.append(("AIMService", "ns2", "Failed", 1))
    assert 'aim_resources{kind="AIMService",namespace="ns2",state="Failed"} 1.0' in exposition(m)


def test_hooks_count() -> None:
    m = OperatorMetrics()
    sink = m.queue_sink("q")
    sink.on_add()
    sink.on_add()
    sink.on_retry()
    sink.on_get(0.1)
    sink.on_done(0.2)
    m.api_observer.observe("apply", "configmaps", "200", 0.01)
    m.api_observer.observe("apply", "configmaps", "200", 0.01)
    m.api_observer.observe("get", "leases", "<error>", 0.01)
    m.set_leader("lease", True)
    m.record_transition("AIMService", "Pending", "Running")
    text = exposition(m)
    assert 'workqueue_adds_total{name="q"} 2.0' in text
    assert 'workqueue_retries_total{name="q"} 1.0' in text
    assert 'workqueue_queue_duration_seconds_count{name="q"} 1.0' in text
    assert 'aim_api_requests_total{code="200",resource="configmaps",verb="apply"} 2.0' in text
    assert 'aim_api_requests_total{code="<error>",resource="leases",verb="get"} 1.0' in text
    assert 'leader_election_master_status{name="lease"} 1.0' in text
    assert 'aim_state_transitions_total{from="Pending",kind="AIMService",to="Running"} 1.0' in text
