"""``aimctl dev demo`` (``make dev``): the operator on the local cluster with the samples.

Steps: bring the ``dev`` cluster up (simulated MI300X/MI325X GPU nodes, KServe's own controller
manager and webhooks, Gateway API CRDs); install the AIM CRDs of ``deploy/crds``; start the samples'
environment and the simulated storage provisioner and Gateway controller
(``python -m tests.sim.environment``, so this command runs
from a checkout); start ``aimctl run``; apply ``deploy/samples`` — the same files that apply unchanged
on kind or a real cluster — into ``--namespace``; and print a status table whenever it changes, until
every sample is ready (its ``Ready`` condition is True) or ``--timeout`` passes. Then the operator
keeps running until Ctrl-C (``--exit-when-ready`` stops instead, exit status 1 if a sample is not
ready). Logs go to ``.aimctl/demo/``.

The AIMClusterImage sample names an image on Docker Hub, whose labels the operator reads from the
registry. The environment serves that image's labels from a local registry (Debian's
``docker-registry``) and the operator uses it as its Docker Hub mirror (``AIMCTL_REGISTRY_MIRRORS``),
so the demo needs no Internet access; on kind or a real cluster the operator reads Docker Hub itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from aimctl.devcluster.cluster import DevCluster
from aimctl.devcluster.rest import RestError
from aimctl.devcluster.tools import kustomize_build
from aimctl.kube.objects import condition, status_of
from aimctl.kube.resources import by_api_version_kind

REPO = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "aim-system"


def _row(obj: dict[str, Any]) -> tuple[str, str, str, str, bool]:
    meta, status = obj["metadata"], status_of(obj)
    ok = condition(obj, "Ready", "True") is not None
    state = str(status.get("status") or ("Ready" if ok else "-"))
    return obj["kind"], meta.get("namespace") or "(cluster)", meta["name"], state, ok


def render_table(rows: list[tuple[str, str, str, str, bool]]) -> str:
    header = ("KIND", "NAMESPACE", "NAME", "STATUS", "READY")
    lines = [(k, ns, n, st, "yes" if ok else "no") for k, ns, n, st, ok in rows]
    widths = [max(len(str(r[i])) for r in [header, *lines]) for i in range(5)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in [header, *lines])


def demo(
    namespace: Annotated[str, typer.Option(help="Namespace for the namespaced samples.")] = "aim-demo",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every sample to be ready.")] = 300.0,
    exit_when_ready: Annotated[bool, typer.Option(help="Stop everything once the samples are ready.")] = False,
    metrics_port: Annotated[int, typer.Option(help="Port of the operator's /metrics on 127.0.0.1.")] = 18080,
    registry_port: Annotated[int, typer.Option(help="Port of the local registry mirror on 127.0.0.1.")] = 18090,
) -> None:
    """Run the operator with the samples on the local cluster and show every sample reach its ready state."""
    if not (REPO / "tests" / "sim" / "environment.py").exists():
        typer.echo("aimctl dev demo runs from a source checkout (it uses the simulators in tests/sim)", err=True)
        raise typer.Exit(2)
    logs = REPO / ".aimctl" / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    cluster = DevCluster("dev", log=lambda m: typer.echo(m, err=True))
    cluster.up()
    cluster.install_crds(sorted((REPO / "deploy" / "crds").glob("aim.silogen.ai_*.yaml")))
    rest = cluster.rest()
    for ns in (OPERATOR_NAMESPACE, namespace):
        rest.apply(f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, argv: list[str], extra: dict[str, str] | None = None) -> None:
        out = (logs / f"{name}.log").open("wb")
        procs.append(
            subprocess.Popen(argv, cwd=REPO, env={**env, **(extra or {})}, stdout=out, stderr=subprocess.STDOUT)
        )
        typer.echo(f"started {name} (log: {logs / (name + '.log')})", err=True)

    try:
        spawn("environment", [sys.executable, "-m", "tests.sim.environment", "--namespace", namespace,
                              "--log-dir", str(logs / "discovery-logs"),
                              "--registry-port", str(registry_port)])  # fmt: skip
        _wait_for_line(logs / "environment.log", "environment ready", procs)
        spawn(
            "operator",
            [sys.executable, "-m", "aimctl.cli.main", "run", f"--leader-election-namespace={OPERATOR_NAMESPACE}",
             f"--metrics-bind-address=127.0.0.1:{metrics_port}",
             f"--health-probe-bind-address=127.0.0.1:{metrics_port + 1}", "--log-format=json"],
            {"AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE,
             "AIMCTL_REGISTRY_MIRRORS": f"docker.io=127.0.0.1:{registry_port}"},
        )  # fmt: skip
        docs = [d for d in yaml.safe_load_all(kustomize_build(REPO / "deploy" / "samples")) if d]
        paths = []
        for doc in docs:
            res = by_api_version_kind(doc["apiVersion"], doc["kind"])
            target: str | None = namespace if res.namespaced else None
            if target:
                doc["metadata"]["namespace"] = target
            paths.append(res.path(target, doc["metadata"]["name"]))
        _apply_when_ready(rest, paths, docs, procs)
        typer.echo(f"applied {len(docs)} samples from deploy/samples; metrics: http://127.0.0.1:{metrics_port}/metrics")
        ok = _watch(rest, paths, timeout, procs)
        if not ok:
            typer.echo(f"not every sample was ready within {timeout:.0f} s (see their conditions: "
                       f"kubectl get aim -A; logs in {logs})", err=True)  # fmt: skip
        if exit_when_ready:
            if not ok:
                raise typer.Exit(1)
            return
        typer.echo("operator and simulators keep running; Ctrl-C stops them", err=True)
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=35)
            except subprocess.TimeoutExpired:
                p.kill()


def _wait_for_line(log: Path, text: str, procs: list[subprocess.Popen[bytes]], timeout: float = 120.0) -> None:
    """Wait until ``log`` contains ``text`` (the environment has its registry mirror and prerequisites
    up), so the operator's first registry read finds the mirror instead of backing off."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        _alive(procs)
        if time.monotonic() > deadline:
            typer.echo(f"{log.name} never said {text!r} within {timeout:.0f} s; see {log}", err=True)
            raise typer.Exit(1)
        time.sleep(0.2)


def _alive(procs: list[subprocess.Popen[bytes]]) -> None:
    dead = [p.args[2] if isinstance(p.args, list) else str(p.args) for p in procs if p.poll() is not None]
    if dead:
        typer.echo(f"exited early: {dead}; see .aimctl/demo/*.log", err=True)
        raise typer.Exit(1)


def _apply_when_ready(rest: Any, paths: list[str], docs: list[dict[str, Any]], procs: list[Any]) -> None:
    deadline = time.monotonic() + 120
    while True:
        _alive(procs)
        try:
            for path, doc in zip(paths, docs, strict=True):
                rest.apply(path, doc, field_manager="aimctl-demo")
            return
        except RestError as e:  # e.g. the environment has not created the namespace's prerequisites yet
            if time.monotonic() > deadline:
                raise
            typer.echo(f"retrying the samples: {e}", err=True)
            time.sleep(2)


def _watch(rest: Any, paths: list[str], timeout: float, procs: list[Any]) -> bool:
    start = time.monotonic()
    last = ""
    while True:
        _alive(procs)
        rows = [_row(rest.request("GET", p)) for p in paths]
        table = render_table(rows)
        if table != last:
            typer.echo(f"\n[{time.monotonic() - start:5.1f} s]\n{table}")
            last = table
        if all(r[4] for r in rows):
            typer.echo(f"\nall {len(rows)} samples ready in {time.monotonic() - start:.1f} s")
            return True
        if time.monotonic() - start > timeout:
            return False
        time.sleep(2)
