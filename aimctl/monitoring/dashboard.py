"""The Grafana dashboard of the operator, built with Grafana's own ``grafana-foundation-sdk``.

Why generated: hand-edited dashboard JSON drifts from the metrics it queries, and nobody reviews a
3 000-line JSON diff. The panels are declared once in :data:`PANELS` (title, unit, queries) and
rendered by the SDK into ``deploy/monitoring/dashboards/aimctl.json`` (``aimctl deploy manifests``);
a unit test checks the committed file is current, and an e2e test runs every query of every panel
against a real Prometheus scraping a running operator and requires data.

Queries use three dashboard variables: ``$datasource``, ``$namespace`` (of the AIM objects, for the
resource panels) and ``$job`` (the scrape job; ``aimctl-metrics`` when scraped through the
ServiceMonitor of ``deploy/monitoring``). Rates use Grafana's ``$__rate_interval``.

``grafana-foundation-sdk`` is a development dependency: only this generator imports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from aimctl.kube.objects import dig_list

UID = "aimctl-operator"
TITLE = "aimctl / AIM operator"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job=~"$job"'
RES = f'{JOB}, namespace=~"$namespace"'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True)
class PanelSpec:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: Literal["timeseries", "stat"] = "timeseries"
    width: int = 12
    stack: bool = False


def _q(expr: str, legend: str) -> Query:
    return Query(expr, legend)


def _quantiles(metric: str, by: str) -> tuple[Query, ...]:
    return tuple(
        _q(
            f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{{{JOB}}}[$__rate_interval])))",
            f"{{{{{by}}}}} p{int(q * 100)}",
        )
        for q in (0.5, 0.99)
    )


#: Rows of panels; each panel's queries are what the e2e test runs against Prometheus.
PANELS: tuple[tuple[str, tuple[PanelSpec, ...]], ...] = (
    (
        "Overview",
        (
            PanelSpec(
                "Operator replicas up",
                "Scrape targets of the operator that answer (one per replica).",
                (_q(f"sum(up{{{JOB}}})", "up"),),
                kind="stat",
                width=6,
            ),
            PanelSpec(
                "Leader",
                "1 for the replica holding the leader Lease; exactly one should.",
                (_q(f"max by (instance) (leader_election_master_status{{{JOB}}})", "{{instance}}"),),
                kind="stat",
                width=6,
            ),
            PanelSpec(
                "Failed or degraded AIM resources",
                "AIM objects whose status is Failed or Degraded.",
                (
                    _q(
                        f'sum(aim_resources{{{RES}, state=~"Failed|Degraded"}}) or vector(0)',
                        "failed or degraded",
                    ),
                ),
                kind="stat",
                width=6,
            ),
            PanelSpec(
                "AIM resources",
                "All AIM objects in the operator's caches.",
                (_q(f"sum(aim_resources{{{RES}}}) or vector(0)", "resources"),),
                kind="stat",
                width=6,
            ),
        ),
    ),
    (
        "AIM resources",
        (
            PanelSpec(
                "Resources by kind and state",
                "aim_resources: AIM objects per kind and status.status, computed from the caches at scrape time.",
                (_q(f"sum by (kind, state) (aim_resources{{{RES}}})", "{{kind}} {{state}}"),),
                stack=True,
            ),
            PanelSpec(
                "State transitions",
                "Transitions per second by kind, from and to state (one event is emitted per transition).",
                (
                    _q(
                        f"sum by (kind, from, to) (rate(aim_state_transitions_total{{{JOB}}}[$__rate_interval]))",
                        "{{kind}} {{from}} → {{to}}",
                    ),
                ),
                unit="ops",
            ),
        ),
    ),
    (
        "Reconciles",
        (
            PanelSpec(
                "Reconciles by result",
                "Reconciles per second by controller and result (success, error, requeue, requeue_after).",
                (
                    _q(
                        f"sum by (controller, result) (rate(controller_runtime_reconcile_total{{{JOB}}}"
                        "[$__rate_interval]))",
                        "{{controller}} {{result}}",
                    ),
                ),
                unit="ops",
            ),
            PanelSpec(
                "Reconcile latency p50 / p99",
                "Duration of a reconcile by controller.",
                _quantiles("controller_runtime_reconcile_time_seconds", "controller"),
                unit="s",
            ),
            PanelSpec(
                "Reconcile errors",
                "Failed reconciles per second by controller (retried with backoff; terminal ones are not).",
                (
                    _q(
                        f"sum by (controller) (rate(controller_runtime_reconcile_errors_total{{{JOB}}}"
                        "[$__rate_interval]))",
                        "{{controller}}",
                    ),
                    _q(
                        "sum by (controller) (rate(controller_runtime_terminal_reconcile_errors_total"
                        f"{{{JOB}}}[$__rate_interval]))",
                        "{{controller}} terminal",
                    ),
                ),
                unit="ops",
            ),
            PanelSpec(
                "Active workers",
                "Workers busy reconciling, out of the configured maximum.",
                (
                    _q(f"sum by (controller) (controller_runtime_active_workers{{{JOB}}})", "{{controller}}"),
                    _q(
                        f"sum by (controller) (controller_runtime_max_concurrent_reconciles{{{JOB}}})",
                        "{{controller}} max",
                    ),
                ),
            ),
        ),
    ),
    (
        "Work queues",
        (
            PanelSpec(
                "Queue depth",
                "Keys waiting to be reconciled, by controller queue.",
                (_q(f"sum by (name) (workqueue_depth{{{JOB}}})", "{{name}}"),),
            ),
            PanelSpec(
                "Queue latency p50 / p99",
                "Time a key waits in the queue before a worker takes it.",
                _quantiles("workqueue_queue_duration_seconds", "name"),
                unit="s",
            ),
            PanelSpec(
                "Adds and retries",
                "Keys added to each queue per second, and retries after a failure.",
                (
                    _q(f"sum by (name) (rate(workqueue_adds_total{{{JOB}}}[$__rate_interval]))", "{{name}} adds"),
                    _q(
                        f"sum by (name) (rate(workqueue_retries_total{{{JOB}}}[$__rate_interval]))",
                        "{{name}} retries",
                    ),
                ),
                unit="ops",
            ),
            PanelSpec(
                "Longest running reconcile",
                "Seconds the longest in-flight reconcile of each queue has been running (stuck workers).",
                (_q(f"max by (name) (workqueue_longest_running_processor_seconds{{{JOB}}})", "{{name}}"),),
                unit="s",
            ),
        ),
    ),
    (
        "Kubernetes API",
        (
            PanelSpec(
                "API requests by verb and code",
                "Requests from the operator to the apiserver per second.",
                (
                    _q(
                        f"sum by (verb, code) (rate(aim_api_requests_total{{{JOB}}}[$__rate_interval]))",
                        "{{verb}} {{code}}",
                    ),
                ),
                unit="reqps",
            ),
            PanelSpec(
                "API request latency p50 / p99",
                "Latency of API requests by verb (watches: until the stream opened).",
                _quantiles("aim_api_request_duration_seconds", "verb"),
                unit="s",
            ),
            PanelSpec(
                "Informers synced",
                "1 once an informer completed its first list; relists after 410 Gone.",
                (
                    _q(f"min(aim_informer_synced{{{JOB}}})", "all synced"),
                    _q(f"sum(aim_informer_relists_total{{{JOB}}})", "relists"),
                ),
            ),
        ),
    ),
)


def _datasource_variable() -> db.DatasourceVariable:
    return db.DatasourceVariable("datasource").label("Data source").type("prometheus")


def _query_variable(name: str, label: str, query: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .include_all(True)
        .all_value(".*")
        .multi(True)
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def _target(query: Query, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref).datasource(DATASOURCE)


def _panel(spec: PanelSpec) -> timeseries.Panel | stat.Panel:
    panel: timeseries.Panel | stat.Panel
    if spec.kind == "stat":
        panel = stat.Panel()
    else:
        ts = timeseries.Panel().fill_opacity(10 if not spec.stack else 60)
        panel = ts
    panel = panel.title(spec.title).description(spec.description).unit(spec.unit).datasource(DATASOURCE)
    panel = panel.height(8 if spec.kind == "timeseries" else 4).span(spec.width)
    for i, query in enumerate(spec.queries):
        panel = panel.with_target(_target(query, chr(ord("A") + i)))
    return panel


def build() -> db.Dashboard:
    """The dashboard builder (see :data:`PANELS`)."""
    board = (
        db.Dashboard(TITLE)
        .uid(UID)
        .description("aimctl, the AMD Inference Microservices operator: AIM resources, reconciles, work queues, API.")
        .tags(["aimctl", "aim", "kubernetes", "operator"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(_datasource_variable())
        .with_variable(_query_variable("job", "Job", "label_values(aim_api_requests_total, job)"))
        .with_variable(_query_variable("namespace", "Namespace", "label_values(aim_resources, namespace)"))
    )
    for title, panels in PANELS:
        board = board.with_row(db.Row(title))
        for spec in panels:
            board = board.with_panel(_panel(spec))
    return board


def render() -> str:
    """The dashboard JSON as committed in ``deploy/monitoring/dashboards/aimctl.json``."""
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


def queries(dashboard_json: str) -> list[tuple[str, str]]:
    """``(panel title, expr)`` of every target of every panel of a dashboard JSON (rows included)."""
    out: list[tuple[str, str]] = []
    doc = json.loads(dashboard_json)

    def walk(panels: Sequence[Any]) -> None:
        for p in panels:
            for t in dig_list(p, "targets"):
                if isinstance(t, dict) and t.get("expr"):
                    out.append((str(p.get("title", "")), str(t["expr"])))
            nested = p.get("panels")
            if isinstance(nested, list):
                walk(nested)

    walk(dig_list(doc, "panels"))
    return out
