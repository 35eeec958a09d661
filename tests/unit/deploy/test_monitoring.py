"""deploy/monitoring: the dashboard is current and queries real metrics; the alert rules pass
``promtool check rules`` and ``promtool test rules``, with a firing test for every alert.

Running every dashboard query against a real Prometheus scraping the operator: tests/e2e/test_monitoring.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aimctl.cli.deploy import generated_files
from aimctl.monitoring import dashboard
from metrics.registry import METRIC_NAMES
from tests.unit.deploy.conftest import DEPLOY, load_all

HERE = Path(__file__).parent
DASHBOARD = DEPLOY / "monitoring" / "dashboards" / "aimctl.json"
RULES = DEPLOY / "monitoring" / "prometheusrule.yaml"
PROMQL_FUNCS = {"sum", "max", "min", "rate", "histogram_quantile", "vector", "absent", "by", "or", "le"}


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: `make deploy-tools` installs Debian's prometheus package")
    return found


def exposed_names() -> set[str]:
    """Every series name the operator exposes (histograms: _bucket/_sum/_count)."""
    names = set(METRIC_NAMES)
    names |= {f"{n}_{s}" for n in METRIC_NAMES if n.endswith("_seconds") for s in ("bucket", "sum", "count")}
    return names | {"up"}


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions, labels or keywords)."""
    no_strings = re.sub(r'"[^"]*"', '""', expr)
    no_labels = re.sub(r"\{[^}]*\}", "", no_strings)
    no_grouping = re.sub(r"\b(by|without)\s*\([^)]*\)", "", no_labels)
    no_ranges = re.sub(r"\[[^\]]*\]", "", no_grouping)
    idents = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_ranges))
    return {i for i in idents if i not in PROMQL_FUNCS and not re.fullmatch(r"\d.*|e\d+", i)}


def test_dashboard_is_current() -> None:
    files = generated_files(DEPLOY)
    assert DASHBOARD.read_text(encoding="utf-8") == files[DASHBOARD], "stale: run `aimctl deploy manifests`"


def test_dashboard_covers_the_issue_panels() -> None:
    text = DASHBOARD.read_text()
    exprs = " ".join(e for _, e in dashboard.queries(text))
    for needed in (
        "sum by (kind, state) (aim_resources",  # per-state counts per kind
        "aim_state_transitions_total",  # transitions
        "histogram_quantile(0.5, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket",
        "histogram_quantile(0.99, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket",
        "controller_runtime_reconcile_errors_total",
        "workqueue_depth",
        "workqueue_queue_duration_seconds_bucket",
        "aim_api_requests_total",
        "leader_election_master_status",
    ):
        assert needed in exprs, needed


def test_dashboard_queries_only_exposed_metrics() -> None:
    queries = dashboard.queries(DASHBOARD.read_text())
    assert len(queries) >= 15
    for title, expr in queries:
        unknown = metric_names(expr) - exposed_names()
        assert not unknown, f"panel {title!r} queries unknown metrics {unknown}: {expr}"


def test_dashboard_configmap_is_labelled_for_the_grafana_sidecar() -> None:
    kust = yaml.safe_load((DEPLOY / "monitoring" / "kustomization.yaml").read_text())
    (gen,) = kust["configMapGenerator"]
    assert gen["files"] == ["dashboards/aimctl.json"]
    assert gen["options"]["labels"]["grafana_dashboard"] == "1"


def rule_groups() -> dict[str, Any]:
    (rule,) = load_all(RULES)
    assert rule["kind"] == "PrometheusRule"
    spec: dict[str, Any] = rule["spec"]
    return spec


def alerts() -> list[dict[str, Any]]:
    return [r for g in rule_groups()["groups"] for r in g["rules"] if "alert" in r]


def test_alert_rules_query_only_exposed_metrics() -> None:
    for a in alerts():
        unknown = metric_names(a["expr"]) - exposed_names()
        assert not unknown, f"{a['alert']} queries unknown metrics {unknown}"


def test_issue_alerts_present() -> None:
    names = {a["alert"] for a in alerts()}
    assert {
        "AIMResourcesFailed",
        "AIMResourcesDegraded",
        "AimctlReconcileErrors",
        "AimctlWorkQueueBacklog",
        "AimctlNoLeader",
        "AimctlOperatorDown",
    } <= names
    for a in alerts():
        assert a["labels"]["severity"] in ("warning", "critical") and a["annotations"]["summary"], a["alert"]


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's spec as a plain Prometheus rule file, next to the promtool test file."""
    (tmp_path / "aimctl-rules.yaml").write_text(yaml.safe_dump(rule_groups(), sort_keys=False))
    shutil.copy(HERE / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    return tmp_path


def test_promtool_check_rules(rules_dir: Path) -> None:
    proc = subprocess.run(
        [promtool(), "check", "rules", "aimctl-rules.yaml"], cwd=rules_dir, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in proc.stdout


def test_promtool_test_rules(rules_dir: Path) -> None:
    proc = subprocess.run(
        [promtool(), "test", "rules", "alerts_test.yaml"], cwd=rules_dir, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    tests = yaml.safe_load((HERE / "alerts_test.yaml").read_text())["tests"]
    fired: set[str] = set()
    silent: set[str] = set()
    for t in tests:
        for case in t.get("alert_rule_test", []):
            (fired if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {a["alert"] for a in alerts()}
    assert names <= fired, f"alerts never shown to fire: {names - fired}"
    assert names <= silent, f"alerts never shown to stay silent: {names - silent}"
