"""Monitoring end to end: a real Prometheus (Debian's ``prometheus``) scrapes the running operator,
every query of every dashboard panel returns data, and the alert rules evaluate on that data.

The scrape job is named ``aimctl-metrics`` and uses ``honor_labels`` — what the ServiceMonitor of
deploy/monitoring produces — so the queries run exactly as committed, with Grafana's variables
substituted: ``$job`` → ``aimctl-metrics``, ``$namespace`` → ``.*``, ``$__rate_interval`` → ``1m``.
AIM objects in several states are created first, so the per-state, transition and reconcile series
exist and rates are non-zero within the window.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from aimctl.monitoring import dashboard
from tests.e2e.conftest import Operator, free_port
from tests.support import aim, kube
from tests.support.wait import wait_for

REPO = Path(__file__).resolve().parents[2]
JOB = "aimctl-metrics"
SUBSTITUTIONS = {"$__rate_interval": "1m", "$namespace": ".*", "$job": JOB}


class Prometheus:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result


@pytest.fixture(scope="module")
async def prometheus(operator: Operator, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Prometheus]:
    binary = shutil.which("prometheus")
    if not binary:
        pytest.fail("prometheus not found: `make deploy-tools` installs Debian's prometheus package")
    work = tmp_path_factory.mktemp("prometheus")
    (rule,) = [d for d in yaml.safe_load_all((REPO / "deploy/monitoring/prometheusrule.yaml").read_text()) if d]
    (work / "rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
    target = operator.metrics_url.removeprefix("http://").removesuffix("/metrics")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(work / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "honor_labels": True,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [target], "labels": {"namespace": "aim-system", "pod": "aimctl-e2e"}}],
            }
        ],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = work / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:

        def targets() -> list[dict[str, Any]]:
            assert proc.poll() is None, log.read_text()[-3000:]
            found: list[dict[str, Any]] = prom.api("targets")["activeTargets"]
            return found

        try:
            await wait_for(targets, lambda t: bool(t) and t[0]["health"] == "up", timeout=60, interval=0.3,
                           what="Prometheus to scrape the operator (active targets)")  # fmt: skip
        except AssertionError as e:
            raise AssertionError(f"{e}\n{log.read_text()[-3000:]}") from e
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def substitute(expr: str) -> str:
    for var, value in SUBSTITUTIONS.items():
        expr = expr.replace(var, value)
    return expr


def model_cache(namespace: str, name: str, storage_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMModelCache",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "1Gi", "storageClassName": storage_class},
    }


def template_cache(namespace: str, name: str, template: str) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMTemplateCache",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"templateRef": template},
    }


@pytest.fixture(scope="module")
async def activity(api: client.ApiClient, prometheus: Prometheus, storage: None) -> None:
    """AIM objects in several states, created through the API; waits until Prometheus saw them."""
    ns = f"t-monitoring-{int(time.time())}"
    await kube.create(
        api,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"aimctl.dev/test": "true"}}},
    )
    objs = [
        model_cache(ns, "ready-to-download", "sim-immediate"),
        model_cache(ns, "no-such-class", "no-such-storage-class"),
        template_cache(ns, "missing-template", "no-such-template"),
    ]
    for o in objs:
        await aim.apply(api, o)
    for o in objs:
        await wait_for(lambda o=o: aim.get(api, o), lambda x: bool((x.get("status") or {}).get("status")),
                       timeout=60, what=f"{o['metadata']['name']} has a status")  # fmt: skip
    await wait_for(
        lambda: _async(prometheus.query, f'sum(aim_resources{{namespace="{ns}"}})'),
        lambda r: bool(r) and float(r[0]["value"][1]) >= len(objs),
        timeout=60,
        what="Prometheus sees the objects in aim_resources",
    )


async def _async(fn: Any, *args: Any) -> Any:
    return fn(*args)


@pytest.mark.usefixtures("activity")
async def test_every_dashboard_query_returns_data(prometheus: Prometheus) -> None:
    queries = dashboard.queries((REPO / "deploy/monitoring/dashboards/aimctl.json").read_text())
    assert queries

    def panels_without_data() -> list[str]:
        empty = []
        for title, expr in queries:
            result = prometheus.query(substitute(expr))
            values = [float(r["value"][1]) for r in result]
            if not result or ("histogram_quantile" in expr and not any(math.isfinite(v) for v in values)):
                empty.append(f"{title}: {substitute(expr)}")
        return empty

    await wait_for(panels_without_data, lambda empty: not empty, timeout=60, interval=1,
                   what="data in every dashboard panel (panels without data)")  # fmt: skip


@pytest.mark.usefixtures("activity")
def test_per_state_counts_and_transitions(prometheus: Prometheus) -> None:
    states = prometheus.query(substitute(f'sum by (kind, state) (aim_resources{{job="{JOB}"}})'))
    kinds = {r["metric"]["kind"] for r in states}
    assert {"AIMModelCache", "AIMTemplateCache"} <= kinds, states
    assert len({(r["metric"]["kind"], r["metric"]["state"]) for r in states}) >= 2
    transitions = prometheus.query(f'aim_state_transitions_total{{job="{JOB}"}}')
    assert transitions and all({"kind", "from", "to"} <= r["metric"].keys() for r in transitions)


@pytest.mark.usefixtures("activity")
async def test_alert_rules_evaluate_on_live_data(prometheus: Prometheus) -> None:
    groups = await wait_rules(prometheus)
    for group in groups:
        for rule in group["rules"]:
            assert rule["health"] == "ok", rule
    # The operator leads and is up: the critical alerts stay silent.
    alerts = {a["labels"]["alertname"] for a in prometheus.api("alerts")["alerts"]}
    assert not alerts & {"AimctlNoLeader", "AimctlOperatorDown"}, alerts


async def wait_rules(prometheus: Prometheus) -> list[dict[str, Any]]:
    """The rule groups once every rule has been evaluated (health ok, a last evaluation time)."""
    groups: list[dict[str, Any]] = await wait_for(
        lambda: prometheus.api("rules")["groups"],
        lambda groups: bool(groups) and all(r.get("health") == "ok" and r.get("lastEvaluation", "").startswith("2")
                                            for g in groups for r in g["rules"]),
        timeout=30, interval=0.5, what="every alert rule evaluated (rule groups)",
    )  # fmt: skip
    return groups
