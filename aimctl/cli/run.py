"""``aimctl run``: the operator process.

Every option is also read from an environment variable (shown in ``aimctl run --help``), so the
Deployment in ``deploy/`` can configure the operator with either. Defaults:

==================================  ===================================  ===========================
option                              environment                          default
==================================  ===================================  ===========================
``--kubeconfig``                    ``KUBECONFIG``                       in-cluster, else ~/.kube/config
``--context``                       ``AIMCTL_KUBE_CONTEXT``              the kubeconfig's current one
``--namespaces``                    ``AIMCTL_NAMESPACES``                all namespaces (comma list)
``--workers``                       ``AIMCTL_WORKERS``                   0 = ``--max-inflight-writes`` (32)
``--controller-workers``            ``AIMCTL_CONTROLLER_WORKERS``        none (``name=N,...``)
``--leader-elect/--no-leader-elect`` ``AIMCTL_LEADER_ELECT``             on
``--leader-election-namespace``     ``AIMCTL_LEADER_ELECTION_NAMESPACE`` the pod's namespace, else default
``--leader-election-id``            ``AIMCTL_LEADER_ELECTION_ID``        aimctl.aim.silogen.ai
``--leader-election-identity``      ``AIMCTL_LEADER_ELECTION_IDENTITY``  <hostname>_<uuid>
``--metrics-bind-address``          ``AIMCTL_METRICS_BIND_ADDRESS``      :8080 (``0`` disables)
``--health-probe-bind-address``     ``AIMCTL_HEALTH_PROBE_BIND_ADDRESS`` :8081 (``0`` disables)
``--log-level``                     ``AIMCTL_LOG_LEVEL``                 info
``--log-format``                    ``AIMCTL_LOG_FORMAT``                json
``--api-qps`` / ``--api-burst``     ``AIMCTL_API_QPS`` / ``_BURST``      0 (no token bucket) / 400
``--max-inflight-writes``           ``AIMCTL_MAX_INFLIGHT_WRITES``       32
``--shutdown-timeout``              ``AIMCTL_SHUTDOWN_TIMEOUT``          30 s
(environment only)                  ``AIMCTL_REGISTRY_MIRRORS``          none (``docker.io=host:port,...``)
(environment only)                  ``AIM_OPERATOR_NAMESPACE``           aim-system (cluster-scoped work)
(environment only)                  ``AIMCTL_DISCOVERY_PULL_DEADLINE``   300 s (see below)
(environment only)                  ``AIMCTL_DERIVED_TEMPLATE_GRACE``    60 s (see below)
(environment only)                  ``AIMCTL_DISCOVERY_BACKOFF_BASE``    60 s (see below)
(environment only)                  ``AIMCTL_STARTUP_WAIT``              120 s (see below)
==================================  ===================================  ===========================

``AIMCTL_DISCOVERY_PULL_DEADLINE``: seconds a template's discovery pod may sit in
``ImagePullBackOff``/``ErrImagePull`` (counted from its Job's creation) before the attempt is given up:
the Job is deleted to free its discovery slot, the pull error stays on the template, and discovery is
retried with the backoff (``aimctl.controllers.template``).

``AIMCTL_DERIVED_TEMPLATE_GRACE``: seconds a derived template (a service's ``overrides`` over its base)
must have had no service pointing at it before it is deleted (``aimctl.controllers.derived_templates``).

``AIMCTL_DISCOVERY_BACKOFF_BASE``: seconds before the first retry of a failed discovery; each further
consecutive failure doubles it, up to an hour. Leave it at 60 in production; tests shorten it.

Before anything starts, the kubeconfig (or in-cluster account) is checked and ``/version`` is read:
no kubeconfig, an unknown context, rejected credentials or failed TLS verification end the process
with one line naming the cause and the fix, and exit code 1 (no traceback). An apiserver that does
not answer yet (refused, timed out, 429/5xx: starting or restarting) is asked again for up to
:data:`STARTUP_WAIT` seconds (``AIMCTL_STARTUP_WAIT``), one line per attempt, before the same exit:
a replica restarted while the apiserver restarts waits for it instead of crash-looping.

Exit codes: 0 after a graceful shutdown (SIGTERM or SIGINT: workers drained, lease released, all
within the shutdown timeout); 1 when the caches did not sync in 2 minutes, or the shutdown timed out. A
lost lease is not an exit: the process steps down to a follower and campaigns again
(``aimctl.manager``).
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

import anyio
import structlog
import typer

from aimctl.cli.access import CliError, preflight, resolve_target
from aimctl.kube.client import ClientSettings, new_client
from aimctl.logging import configure_logging
from aimctl.manager import CacheSyncTimeout, Manager, ManagerConfig
from aimctl.reconcile import Controller
from metrics.registry import OperatorMetrics

log = structlog.get_logger("aimctl.run")

SA_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
#: Seconds ``aimctl run`` waits at start for an apiserver that does not answer yet (see the module
#: docstring); ``AIMCTL_STARTUP_WAIT`` overrides it (0: fail at once).
STARTUP_WAIT = 120.0


def builtin_controllers(manager: Manager) -> list[Controller]:
    """The AIM controllers (see :mod:`aimctl.controllers.registry`)."""
    from aimctl.controllers.registry import controllers

    return controllers(manager)


def load_controllers(manager: Manager, specs: Iterable[str]) -> list[Controller]:
    """Instantiate extra controllers from ``module:factory`` specs; ``factory(manager)`` returns a
    controller or an iterable of controllers (used by tests and benchmarks)."""
    out: list[Controller] = []
    for spec in specs:
        module_name, sep, attr = spec.partition(":")
        if not sep:
            raise typer.BadParameter(f"controller spec {spec!r} must be module:factory")
        made: Any = getattr(importlib.import_module(module_name), attr)(manager)
        out.extend(made if isinstance(made, Iterable) else [made])
    return out


def default_leader_election_namespace() -> str:
    if os.environ.get("POD_NAMESPACE"):
        return os.environ["POD_NAMESPACE"]
    try:
        return SA_NAMESPACE_FILE.read_text().strip() or "default"
    except OSError:
        return "default"


def parse_workers(value: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, n = part.partition("=")
        if not sep or not n.isdigit() or int(n) < 1:
            raise typer.BadParameter(f"{part!r}: expected controller=N with N >= 1")
        out[name.strip()] = int(n)
    return out


def _address(value: str) -> str | None:
    return None if value in ("", "0") else value


async def serve(
    manager_config: ManagerConfig, client_settings: ClientSettings, controllers: list[str], shutdown_timeout: float
) -> int:
    """Run the operator until a signal or a fatal condition; return the exit code."""
    metrics = OperatorMetrics()
    client = await new_client(client_settings, observer=metrics.api_observer)
    exit_code = 0
    try:
        manager = Manager(client, manager_config, metrics)
        for controller in [*builtin_controllers(manager), *load_controllers(manager, controllers)]:
            manager.add(controller)
        async with anyio.create_task_group() as tg:

            async def shutdown_deadline() -> None:
                nonlocal exit_code
                await anyio.sleep(shutdown_timeout)
                log.error("graceful shutdown timed out; exiting", timeout=shutdown_timeout)
                exit_code = 1
                tg.cancel_scope.cancel()

            async def on_signals() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for sig in signals:
                        log.info("signal received; shutting down", signal=signal.Signals(sig).name)
                        manager.request_stop()
                        tg.start_soon(shutdown_deadline, name="shutdown-deadline")
                        return

            tg.start_soon(on_signals, name="signals")
            try:
                await manager.run()
            except CacheSyncTimeout:
                exit_code = 1
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await client.close()
    log.info("stopped", exit_code=exit_code)
    return exit_code


def run(
    kubeconfig: Annotated[
        Path | None,
        typer.Option(envvar="KUBECONFIG", help="kubeconfig file (default: in-cluster, then ~/.kube/config)."),
    ] = None,
    context: Annotated[str | None, typer.Option(envvar="AIMCTL_KUBE_CONTEXT", help="kubeconfig context.")] = None,
    namespaces: Annotated[
        str, typer.Option(envvar="AIMCTL_NAMESPACES", help="Comma-separated namespaces to watch; empty = all.")
    ] = "",
    workers: Annotated[
        int,
        typer.Option(
            envvar="AIMCTL_WORKERS", min=0, help="Workers per controller; 0 = as many as --max-inflight-writes."
        ),
    ] = 0,
    controller_workers: Annotated[
        str, typer.Option(envvar="AIMCTL_CONTROLLER_WORKERS", help="Per-controller workers: name=N,name=N.")
    ] = "",
    leader_elect: Annotated[
        bool, typer.Option(envvar="AIMCTL_LEADER_ELECT", help="Elect a leader on a Lease (for >1 replica).")
    ] = True,
    leader_election_namespace: Annotated[
        str | None,
        typer.Option(envvar="AIMCTL_LEADER_ELECTION_NAMESPACE", help="Namespace of the Lease (default: own)."),
    ] = None,
    leader_election_id: Annotated[
        str, typer.Option(envvar="AIMCTL_LEADER_ELECTION_ID", help="Name of the Lease.")
    ] = "aimctl.aim.silogen.ai",
    leader_election_identity: Annotated[
        str | None,
        typer.Option(envvar="AIMCTL_LEADER_ELECTION_IDENTITY", help="Holder identity (default: <hostname>_<uuid>)."),
    ] = None,
    metrics_bind_address: Annotated[
        str, typer.Option(envvar="AIMCTL_METRICS_BIND_ADDRESS", help="host:port of /metrics; 0 disables.")
    ] = ":8080",
    health_probe_bind_address: Annotated[
        str,
        typer.Option(envvar="AIMCTL_HEALTH_PROBE_BIND_ADDRESS", help="host:port of /healthz and /readyz; 0 disables."),
    ] = ":8081",
    log_level: Annotated[str, typer.Option(envvar="AIMCTL_LOG_LEVEL", help="debug, info, warning, error.")] = "info",
    log_format: Annotated[str, typer.Option(envvar="AIMCTL_LOG_FORMAT", help="json or console.")] = "json",
    api_qps: Annotated[
        float,
        typer.Option(
            envvar="AIMCTL_API_QPS",
            help="Client-side token bucket, requests/s; 0 or less = off (the default: the apiserver's priority"
            " and fairness and --max-inflight-writes bound the load).",
        ),
    ] = 0.0,
    api_burst: Annotated[
        int, typer.Option(envvar="AIMCTL_API_BURST", min=1, help="Burst of the token bucket (with --api-qps).")
    ] = 400,
    max_inflight_writes: Annotated[
        int,
        typer.Option(
            envvar="AIMCTL_MAX_INFLIGHT_WRITES",
            min=1,
            help="Writes in flight at most (reconcile writes first; events yield their slots while reconciles write).",
        ),
    ] = 32,
    shutdown_timeout: Annotated[
        float, typer.Option(envvar="AIMCTL_SHUTDOWN_TIMEOUT", help="Seconds for a graceful shutdown.")
    ] = 30.0,
    controller: Annotated[
        list[str] | None,
        typer.Option(
            "--controller",
            envvar="AIMCTL_EXTRA_CONTROLLERS",
            hidden=True,
            help="Extra controller factory module:callable (tests, benchmarks). Repeatable.",
        ),
    ] = None,
) -> None:
    """Run the operator: informers, controllers, leader election, /metrics, /healthz, /readyz."""
    try:
        configure_logging(log_level, log_format)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    drain = max(1.0, min(20.0, shutdown_timeout - 10.0))
    manager_config = ManagerConfig(
        namespaces=[n.strip() for n in namespaces.split(",") if n.strip()] or None,
        # Sized to the API budget: a reconcile holds at most one write slot at a time, so more workers
        # than write slots only queue on the client; fewer leave the budget unused while each worker
        # waits ~50 ms of round trips per reconcile (issue 18: 1 worker per controller converged 1 000
        # services in 114 s, see tests/bench/bench_scale.py). Keys stay serialised by the work queue.
        default_workers=workers or max_inflight_writes,
        workers=parse_workers(controller_workers),
        leader_election=leader_elect,
        leader_election_namespace=leader_election_namespace or default_leader_election_namespace(),
        leader_election_id=leader_election_id,
        leader_election_identity=leader_election_identity,
        metrics_address=_address(metrics_bind_address),
        probe_address=_address(health_probe_bind_address),
        drain_timeout=drain,
        shutdown_timeout=shutdown_timeout,
    )
    try:
        target = resolve_target(kubeconfig, context, None)
        anyio.run(functools.partial(preflight, target, wait=_startup_wait(), on_retry=_report_wait), backend="asyncio")
    except CliError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    client_settings = ClientSettings(
        kubeconfig=kubeconfig, context=context, qps=api_qps, burst=api_burst, max_inflight_writes=max_inflight_writes
    )
    code = anyio.run(
        serve, manager_config, client_settings, list(controller or []), shutdown_timeout, backend="asyncio"
    )
    raise typer.Exit(code)


def _report_wait(message: str, delay: float) -> None:
    typer.echo(f"waiting for the apiserver ({message}); asking again in {delay:.0f} s", err=True)


def _startup_wait() -> float:
    raw = os.environ.get("AIMCTL_STARTUP_WAIT", "")
    try:
        return max(0.0, float(raw)) if raw else STARTUP_WAIT
    except ValueError:
        raise typer.BadParameter(f"AIMCTL_STARTUP_WAIT={raw!r} is not a number of seconds (e.g. 120)") from None
