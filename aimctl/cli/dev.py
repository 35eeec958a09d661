"""``aimctl dev``: the local development cluster (real Kubernetes on loopback, no container runtime)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aimctl.cli import demo
from aimctl.devcluster.build import default_bin_dir, ensure_binaries
from aimctl.devcluster.cluster import ClusterError, DevCluster
from aimctl.devcluster.kserve import ensure_manager
from aimctl.devcluster.progress import terminal_redraw

app = typer.Typer(help="Development tools: the local cluster.", no_args_is_help=True)
cluster_app = typer.Typer(
    help="Run real Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) on loopback.",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")

NameOpt = Annotated[
    str, typer.Option("--name", envvar="AIMCTL_CLUSTER", help="Cluster name; 'dev' for people, 'test' for tests.")
]
PortOpt = Annotated[
    int | None,
    typer.Option("--port-base", help="First of 7 consecutive loopback ports (default: 16443 for dev, 26443 for test)."),
]


def _cluster(name: str, port_base: int | None, nodes: Path | None = None) -> DevCluster:
    return DevCluster(name, port_base=port_base, nodes_file=nodes, log=lambda m: typer.echo(m, err=True))


@cluster_app.command("up")
def up(
    name: NameOpt = "dev",
    port_base: PortOpt = None,
    nodes: Annotated[
        Path | None,
        typer.Option("--nodes", exists=True, help="YAML file of simulated nodes (default: MI300X, MI325X, CPU)."),
    ] = None,
) -> None:
    """Build the binaries if needed (first run only), start the cluster and wait until it serves."""
    c = _cluster(name, port_base, nodes)
    try:
        c.up()
    except ClusterError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(f"export KUBECONFIG={c.kubeconfig}")


@cluster_app.command("down")
def down(
    name: NameOpt = "dev",
    port_base: PortOpt = None,
    purge: Annotated[bool, typer.Option("--purge", help="Also delete the data, certificates and logs.")] = False,
) -> None:
    """Stop the cluster; its data stays for the next 'up' unless --purge."""
    c = _cluster(name, port_base)
    c.destroy() if purge else c.down()


@cluster_app.command("status")
def status(name: NameOpt = "dev", port_base: PortOpt = None) -> None:
    """Show each component's pid and health; exit 1 unless all are healthy."""
    c = _cluster(name, port_base)
    states = c.status()
    for s in states:
        typer.echo(
            f"{s.name:<26} {'running' if s.pid else 'stopped':<8} pid={s.pid or '-':<8} "
            f"{'healthy' if s.healthy else 'unhealthy'}"
        )
    typer.echo(f"kubeconfig: {c.kubeconfig}")
    if not all(s.healthy for s in states):
        raise typer.Exit(1)


@cluster_app.command("kubeconfig")
def kubeconfig(name: NameOpt = "dev", port_base: PortOpt = None) -> None:
    """Print the path of the admin kubeconfig (use: export KUBECONFIG=$(aimctl dev cluster kubeconfig))."""
    typer.echo(str(_cluster(name, port_base).kubeconfig))


@cluster_app.command("build")
def build() -> None:
    """Build (or find in the cache) the Kubernetes binaries and KServe's manager without starting anything."""
    b = ensure_binaries(lambda m: typer.echo(m, err=True), terminal_redraw())
    typer.echo(str(b.directory if b.directory else default_bin_dir()))
    typer.echo(str(ensure_manager(lambda m: typer.echo(m, err=True))))


app.command("demo")(demo.demo)
