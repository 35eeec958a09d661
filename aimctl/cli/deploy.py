"""``aimctl deploy``: the generated parts of ``deploy/`` (RBAC roles, Grafana dashboard, the Helm chart's files).

``aimctl deploy manifests`` writes them; ``--check`` only compares and exits 1 when a file is out of
date (the unit tests run the same comparison). The RBAC roles come from :mod:`aimctl.rbac`, the
dashboard from :mod:`aimctl.monitoring.dashboard` (which needs the ``grafana-foundation-sdk``
development dependency, so it is imported only here).

The Helm chart ``deploy/chart/aimctl`` reads what it shares with the kustomize units from its
``files/`` directory (Helm cannot read outside the chart): the two roles, the ServiceMonitor and
PrometheusRule of ``deploy/monitoring`` and the dashboard. Its CRDs (from :mod:`aimctl.api.crdgen`:
``aimctl crds`` behind a ``---``, :func:`chart_crd`) go to the ``crds/`` directory of its ``crds``
subchart (:data:`CHART_CRDS`), which Helm installs before any template and waits for. All are written
here from the same sources, so the chart cannot drift from them. The chart's values reference
``docs/helm-values.md`` is generated from its ``values.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimctl import rbac

app = typer.Typer(help="Deployment manifests: generate the RBAC roles and the Grafana dashboard.", no_args_is_help=True)

DEFAULT_DEPLOY = Path("deploy")
#: Where the chart's CRDs are, under ``deploy/``: the ``crds/`` directory of the subchart ``crds``
#: (condition ``crds.enabled``), so that the value can leave them out.
CHART_CRDS = Path("chart", "aimctl", "charts", "crds", "crds")


def chart_crd(crd: str) -> str:
    """A CRD file of ``aimctl crds`` as the chart ships it: behind a document separator, because
    ``helm show crds`` prints the files of crds/ one after the other, and without it the stream would
    be one YAML document (``helm show crds ... | kubectl apply -f -`` would apply only the last CRD)."""
    return "---\n" + crd


def generated_files(deploy: Path) -> dict[Path, str]:
    """Every generated file of ``deploy/`` and its expected content."""
    from aimctl import chartdocs
    from aimctl.api.crdgen import KUSTOMIZATION_FILE, render_all
    from aimctl.monitoring import dashboard

    roles = rbac.render()
    board = dashboard.render()
    files = {deploy / "rbac" / name: content for name, content in roles.items()}
    files[deploy / "monitoring" / "dashboards" / "aimctl.json"] = board
    chart_files = deploy / "chart" / "aimctl" / "files"
    files.update({deploy / CHART_CRDS / n: chart_crd(c) for n, c in render_all().items() if n != KUSTOMIZATION_FILE})
    files.update({chart_files / "rbac" / name: content for name, content in roles.items()})
    for name in ("servicemonitor.yaml", "prometheusrule.yaml"):
        files[chart_files / "monitoring" / name] = (deploy / "monitoring" / name).read_text(encoding="utf-8")
    files[chart_files / "dashboards" / "aimctl.json"] = board
    values = (deploy / "chart" / "aimctl" / "values.yaml").read_text(encoding="utf-8")
    files[deploy.parent / "docs" / "helm-values.md"] = chartdocs.render(values)
    return files


@app.command("manifests")
def manifests(
    deploy: Annotated[Path, typer.Option("--deploy-dir", help="The deploy/ directory.")] = DEFAULT_DEPLOY,
    check: Annotated[bool, typer.Option("--check", help="Do not write; exit 1 if a file is out of date.")] = False,
) -> None:
    """Write deploy/rbac/role.yaml, deploy/rbac/leader_election_role.yaml, the dashboard JSON, the Helm
    chart's files/ and CRDs, and docs/helm-values.md (removing a chart CRD no kind has any more)."""
    files = generated_files(deploy)
    stale = [p for p, content in files.items() if not p.exists() or p.read_text(encoding="utf-8") != content]
    extra = sorted(p for p in (deploy / CHART_CRDS).glob("*.yaml") if p not in files)
    if check:
        for path in stale:
            typer.echo(f"out of date: {path}", err=True)
        for path in extra:
            typer.echo(f"not generated any more: {path}", err=True)
        if stale or extra:
            typer.echo("run `aimctl deploy manifests`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{len(files)} generated files up to date")
        return
    for path in extra:
        path.unlink()
        typer.echo(f"removed {path}")
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
        typer.echo(f"wrote {path}")


@app.command("render")
def render(directory: Annotated[Path, typer.Argument(help="A kustomization directory, e.g. deploy/default.")]) -> None:
    """Print ``kustomize build DIRECTORY`` (kustomize is built once from its Go module)."""
    from aimctl.devcluster.tools import kustomize_build

    typer.echo(kustomize_build(directory, log=lambda m: typer.echo(m, err=True)), nl=False)


@app.command("upstream-crds")
def upstream_crds(
    monitoring: Annotated[
        bool, typer.Option("--monitoring", help="Also the Prometheus operator's ServiceMonitor and PrometheusRule.")
    ] = False,
) -> None:
    """Print the KServe and Gateway API CRDs the operator watches, from their Go modules at the pinned
    versions (``| kubectl apply --server-side -f -`` on kind or any cluster without them)."""
    import yaml

    from aimctl.devcluster.upstream_crds import UPSTREAM_CRDS, crd_files, load_crds, monitoring_crd_files

    files = crd_files(tuple(t for t in UPSTREAM_CRDS if t[0] != "sigs.k8s.io/kwok"))
    if monitoring:
        files += monitoring_crd_files()
    typer.echo(yaml.safe_dump_all(load_crds(files), sort_keys=False), nl=False)
