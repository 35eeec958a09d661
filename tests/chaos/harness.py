"""What the chaos scenarios share: the chaos cluster, operator processes behind fault proxies, fleets of
services, convergence checks and the figures each scenario prints.

* :class:`ChaosCluster` — a private local cluster (audit log on) with the AIM CRDs and KServe running
  in it; scenarios run their own operators here, so no other test's
  operator (the e2e session's watches every namespace of the session cluster) races them.
* :class:`ChaosOperator` — one ``aimctl run`` process with its own client certificate (the audit log
  names it), talking to the apiserver through its own :class:`tests.support.fault_proxy.FaultProxy`,
  restarted when it exits (as a Deployment would) with every unexpected exit counted.
* :class:`Fleet` — an image, an Available template and N services in one namespace; ``converged()``
  checks every service against its last spec and its children with one list per kind.

Sizes: ``AIMCTL_CHAOS_SIZE=full`` (``make bench``) scales the fleets up; the default ("reduced") keeps
each scenario at ≥ 100 services for ``make test``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
from kubernetes_asyncio import client

from aimctl.devcluster.pki import ClientIdentity, ensure_client_certificate
from tests.sim.pod_logs import serve_logs
from tests.support import aim, audit, kube
from tests.support import services as svc
from tests.support.discovery import one_model
from tests.support.fault_proxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "aim-system"
SERVICES = "/apis/aim.silogen.ai/v1alpha1/namespaces/{ns}/aimservices"
ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"


def full_size() -> bool:
    return os.environ.get("AIMCTL_CHAOS_SIZE", "reduced") == "full"


N = TypeVar("N", int, float)


def size(reduced: N, full: N) -> N:
    """A scenario's size: its fleet, or one of its fixed windows (seconds). ``reduced`` in ``make test``,
    ``full`` with AIMCTL_CHAOS_SIZE=full (``make bench``). A reduced window is still as long as what it
    proves needs (one full fault cycle, a SIGSTOP past the lease, ...); each scenario says why."""
    return full if full_size() else reduced


def figure(scenario: str, **values: Any) -> None:
    """Print one line of figures (pytest -s shows them; they also land in the captured output)."""
    rendered = ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())
    print(f"[chaos figures] {scenario}: {rendered}", flush=True)


@dataclass
class Outcome:
    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None
    seconds: float = 0.0


@dataclass
class ChaosRuns:
    """The scenarios of the selected tests, started once by the ``chaos_runs`` fixture (conftest.py)."""

    outcomes: dict[str, Outcome]

    async def result(self, module: str) -> None:
        outcome = self.outcomes[module]
        await outcome.done.wait()
        if outcome.error is not None:
            raise outcome.error


class Phases:
    """Prints how long each phase of a scenario took (``[chaos phase]`` lines): where the time goes."""

    def __init__(self, scenario: str) -> None:
        self.scenario = scenario
        self.start = self.last = time.monotonic()

    def mark(self, phase: str) -> float:
        now = time.monotonic()
        took, self.last = now - self.last, now
        print(f"[chaos phase] {self.scenario}: {phase} took {took:.1f} s (at {now - self.start:.1f} s)", flush=True)
        return took


@dataclass
class ChaosCluster:
    local: Any  # aimctl.devcluster.cluster.DevCluster, audit log on
    api: client.ApiClient
    tmp: Path

    @property
    def pki(self) -> Path:
        return Path(self.local.layout.pki)

    def writes(self, since: dt.datetime | None = None, user: str | None = None) -> list[audit.Write]:
        found = audit.writes(self.local.audit_log_file, since)
        return [w for w in found if user is None or w.user == user]

    async def namespace(self, prefix: str) -> str:
        name = f"c-{prefix}-{uuid.uuid4().hex[:5]}"
        await kube.create(
            self.api,
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": {"aimctl.dev/test": "true"}},
            },
        )
        await svc.isolate(self.api, name)
        return name

    async def drop_namespace(self, name: str) -> None:
        with contextlib.suppress(Exception):
            await svc.release_discovery(self.api, name)
        with contextlib.suppress(Exception):
            await kube.delete(self.api, f"/api/v1/namespaces/{name}")


@dataclass
class ChaosOperator:
    """See the module docstring. ``user`` is the apiserver's name for this process's writes."""

    cluster: ChaosCluster
    name: str
    args: list[str]
    proxy: FaultProxy
    log_dir: Path
    user: str = ""
    supervise: bool = True
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    unexpected_exits: int = 0
    intentional_kills: int = 0
    exit_codes: list[int] = field(default_factory=list)
    _probe_port: int | None = None
    _log_offset: int = 0
    _expect_exit: bool = False

    def start(self) -> None:
        # Port 0: the process binds free ports itself and logs them (``serving``); ports picked here
        # and bound later collide when several operators start at once.
        path = self.log_dir / f"{self.name}.log"
        self._probe_port, self._log_offset = None, path.stat().st_size if path.exists() else 0
        self.starts += 1
        kubeconfig = self.proxy.kubeconfig(self.log_dir / f"{self.name}.kubeconfig")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "POD_NAME": f"chaos-{self.name}",
               "AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE, "AIMCTL_LOG_FORMAT": "json",
               "AIMCTL_LOG_LEVEL": os.environ.get("AIMCTL_TEST_LOG_LEVEL", "info")}  # fmt: skip
        env.pop("AIMCTL_EXTRA_CONTROLLERS", None)
        log = (self.log_dir / f"{self.name}.log").open("ab")
        argv = [sys.executable, "-m", "aimctl.cli.main", "run", "--kubeconfig", str(kubeconfig),
                "--metrics-bind-address", "127.0.0.1:0",
                "--health-probe-bind-address", "127.0.0.1:0", *self.args]  # fmt: skip
        self.proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self._expect_exit = False

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig``; SIGKILL/SIGTERM count as intentional (the supervisor restarts it)."""
        if self.proc is not None and self.proc.poll() is None:
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self._expect_exit = True
                self.intentional_kills += 1
            self.proc.send_signal(sig)

    def log_text(self) -> str:
        path = self.log_dir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(raw))
        return out

    @property
    def probe_port(self) -> int | None:
        """The port of ``/healthz`` and ``/readyz`` of the running process (from its ``serving`` line)."""
        if self._probe_port is None:
            path = self.log_dir / f"{self.name}.log"
            with contextlib.suppress(OSError), path.open("rb") as f:
                f.seek(self._log_offset)
                for raw in f:
                    if b'"serving"' in raw and b"/healthz" in raw:
                        with contextlib.suppress(ValueError, KeyError):
                            self._probe_port = int(json.loads(raw)["address"].rsplit(":", 1)[1])
                            break
        return self._probe_port

    def probe(self, path: str = "/healthz", timeout: float = 5.0) -> int:
        """HTTP status of the probe endpoint (0: no answer within ``timeout``, or not serving yet)."""
        if self.probe_port is None:
            return 0
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.probe_port}{path}", timeout=timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
        except OSError:
            return 0

    async def wait_ready(self, within: float = 300) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            # In a thread: a blocking probe would stall every other scenario, proxy and simulator.
            if await anyio.to_thread.run_sync(self.probe, "/readyz", 2) == 200:
                return
            await anyio.sleep(0.5)
        raise AssertionError(f"operator {self.name} not ready after {within:.0f} s:\n{self.log_text()[-3000:]}")

    async def supervisor(self) -> None:
        """Restart the process whenever it exits (after 1 s, as a kubelet would, without its backoff)."""
        while True:
            await anyio.sleep(0.2)
            if self.proc is not None and self.proc.poll() is not None:
                self.exit_codes.append(self.proc.returncode)
                if not self._expect_exit:
                    self.unexpected_exits += 1
                if not self.supervise:
                    return
                await anyio.sleep(1.0)
                self.start()

    async def stop(self) -> None:
        """SIGTERM (after SIGCONT), SIGKILL after 20 s. Waits without blocking the event loop: the
        other scenarios' fault proxies and the KServe stand-in share it (a graceful shutdown takes
        seconds, and a blocking wait froze every scenario running beside this one)."""
        self.supervise = False
        if self.proc is not None and self.proc.poll() is None:
            self._expect_exit = True
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            for _ in range(200):
                if self.proc.poll() is not None:
                    return
                await anyio.sleep(0.1)
            self.proc.kill()
            await anyio.to_thread.run_sync(self.proc.wait)


@contextlib.asynccontextmanager
async def operators(cluster: ChaosCluster, tmp: Path) -> AsyncIterator[Callable[..., Awaitable[ChaosOperator]]]:
    """A factory of supervised operators; all are stopped (and their proxies) when the block exits."""
    made: list[ChaosOperator] = []
    async with anyio.create_task_group() as tg:

        async def start(name: str, args: list[str], supervise: bool = True) -> ChaosOperator:
            user = f"chaos-operator-{name}"
            cert, key = ensure_client_certificate(
                cluster.pki, ClientIdentity(f"chaos-{name}", user, ("system:masters",))
            )
            proxy = FaultProxy(cluster.local.server, cluster.pki, cert, key)
            await proxy.start()
            op = ChaosOperator(cluster, name, args, proxy, tmp, user=user, supervise=supervise)
            op.start()
            made.append(op)
            tg.start_soon(op.supervisor)
            return op

        try:
            yield start
        finally:
            with anyio.CancelScope(shield=True):  # stopped even when the scenario is cancelled
                for op in made:
                    await op.stop()
                    await op.proxy.stop()
            tg.cancel_scope.cancel()


@dataclass
class Fleet:
    """An image ``img``, an Available template ``tpl`` and services ``s0000…`` in ``namespace``."""

    cluster: ChaosCluster
    namespace: str
    count: int
    prefix: str = "s"
    deleted: set[str] = field(default_factory=set)

    @property
    def api(self) -> client.ApiClient:
        return self.cluster.api

    def names(self) -> list[str]:
        return [f"{self.prefix}{i:04d}" for i in range(self.count)]

    def live(self) -> list[str]:
        return [n for n in self.names() if n not in self.deleted]

    def manifest(self, name: str, **spec: Any) -> dict[str, Any]:
        return svc.service(self.namespace, name, "img", templateRef="tpl", **spec)

    async def prepare(self) -> None:
        """Image and template (discovery runs for real and must finish) in the namespace."""
        await serve_logs(self.api, self.namespace, one_model(), self.cluster.tmp)
        tpl = svc.template("tpl", "img", self.namespace)
        await svc.apply_all(self.api, svc.image("img", self.namespace), tpl)
        await svc.wait_template(self.api, tpl, "Available", within=180)

    async def create(
        self, names: list[str] | None = None, parallel: int = 32, spread: float = 0.0, **spec: Any
    ) -> None:
        """Apply the services, ``parallel`` at a time; with ``spread`` > 0 the i-th of n starts no
        earlier than ``i * spread / n`` seconds in (a burst that lasts ``spread`` seconds)."""
        limiter = anyio.CapacityLimiter(parallel)
        todo = names or self.names()
        start = time.monotonic()

        async def one(i: int, n: str) -> None:
            if spread > 0:
                await anyio.sleep(max(0.0, start + i * spread / len(todo) - time.monotonic()))
            async with limiter:
                for attempt in range(20):
                    try:
                        await aim.apply(self.api, self.manifest(n, **spec))
                        return
                    except Exception:  # the apiserver may be restarting (scenario 6)
                        if attempt == 19:
                            raise
                        await anyio.sleep(1)

        async with anyio.create_task_group() as tg:
            for i, n in enumerate(todo):
                tg.start_soon(one, i, n)

    async def delete(self, names: list[str]) -> None:
        for n in names:
            self.deleted.add(n)
            with contextlib.suppress(Exception):
                await kube.delete(self.api, f"{SERVICES.format(ns=self.namespace)}/{n}")

    async def snapshot(self) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        services = (await kube.get(self.api, SERVICES.format(ns=self.namespace)))["items"]
        isvcs = (await kube.get(self.api, ISVCS.format(ns=self.namespace)))["items"]
        by_owner: dict[str, list[dict[str, Any]]] = {}
        for i in isvcs:
            for ref in i["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "AIMService":
                    by_owner.setdefault(ref["name"], []).append(i)
        return {s["metadata"]["name"]: s for s in services}, by_owner

    async def problems(self, expected: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> list[str]:
        """Why the fleet has not converged (empty: converged). A live service must be Running for its
        generation with exactly one InferenceService, owned by its UID, matching its spec (replicas,
        env; plus ``expected(service)`` fields of the predictor model if given); a deleted one must have
        no service object left and no InferenceService."""
        services, by_owner = await self.snapshot()
        out: list[str] = []
        for n in self.names():
            s = services.get(n)
            children = by_owner.get(n, [])
            if n in self.deleted:
                if children:
                    out.append(f"{n}: deleted but {len(children)} InferenceService(s) remain")
                continue
            if s is None:
                out.append(f"{n}: missing")
                continue
            st = s.get("status") or {}
            if st.get("observedGeneration") != s["metadata"]["generation"]:
                out.append(f"{n}: observedGeneration {st.get('observedGeneration')} != {s['metadata']['generation']}")
                continue
            if st.get("status") != "Running":
                out.append(f"{n}: status {st.get('status')}")
                continue
            if len(children) != 1:
                out.append(f"{n}: {len(children)} InferenceServices")
                continue
            (isvc,) = children
            owner = next(r for r in isvc["metadata"]["ownerReferences"] if r.get("kind") == "AIMService")
            if owner["uid"] != s["metadata"]["uid"]:
                out.append(f"{n}: InferenceService owned by a dead UID {owner['uid']}")
                continue
            predictor = isvc["spec"]["predictor"]
            replicas = int(s["spec"].get("replicas", 1))
            if (predictor.get("minReplicas"), predictor.get("maxReplicas")) != (replicas, replicas):
                out.append(f"{n}: InferenceService replicas {predictor.get('minReplicas')} != {replicas}")
                continue
            model = predictor.get("model") or {}
            want_env = {e["name"]: e.get("value") for e in s["spec"].get("env") or []}
            have_env = {e["name"]: e.get("value") for e in model.get("env") or []}
            if any(have_env.get(k) != v for k, v in want_env.items()):
                out.append(f"{n}: InferenceService env {have_env} lacks {want_env}")
                continue
            if expected is not None:
                for k, v in expected(s).items():
                    if model.get(k) != v:
                        out.append(f"{n}: InferenceService model.{k}={model.get(k)!r}, want {v!r}")
        return out

    async def converge(self, within: float, what: str = "the fleet to converge") -> Convergence:
        """Wait until :meth:`problems` is empty or ``within`` seconds passed; never raises, so a scenario
        prints its figures before it asserts ``result.ok``."""
        start = time.monotonic()
        last: list[str] = []
        while True:
            try:
                last = await self.problems()
            except Exception as exc:  # the apiserver may be restarting
                last = [f"(list failed: {exc!r})"]
            if not last:
                return Convergence(what, within, time.monotonic() - start, [])
            if time.monotonic() - start > within:
                return Convergence(what, within, None, last)
            await anyio.sleep(1.0)

    async def wait_converged(self, within: float, what: str = "the fleet to converge") -> float:
        """Wait until :meth:`problems` is empty; returns the seconds it took (a figure)."""
        result = await self.converge(within, what)
        assert result.ok, result.message()
        return result.seconds or 0.0


@dataclass
class Convergence:
    what: str
    within: float
    seconds: float | None  # None: not converged within ``within``
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def figure(self) -> str:
        return f"{self.seconds:.1f}" if self.seconds is not None else f"not within {self.within:.0f}"

    def message(self) -> str:
        return (
            f"timed out after {self.within:.0f} s waiting for {self.what}: {len(self.problems)} problem(s), e.g. "
            + "; ".join(self.problems[:8])
        )


async def healthz_monitor(op: ChaosOperator, failures: list[str], stop: anyio.Event, interval: float = 1.0) -> None:
    """Probe ``/healthz`` every ``interval`` seconds (5 s timeout) until ``stop``; record each failure."""
    while not stop.is_set():
        started = time.monotonic()
        code = await anyio.to_thread.run_sync(op.probe, "/healthz", 5.0)
        if code != 200:
            failures.append(f"{time.strftime('%H:%M:%S')} /healthz answered {code or 'nothing within 5 s'}")
        await anyio.sleep(max(0.0, interval - (time.monotonic() - started)))


def operator_writes(cluster: ChaosCluster, op: ChaosOperator, since: dt.datetime) -> list[audit.Write]:
    """Writes that took effect (2xx) by ``op`` since ``since``, from the audit log."""
    return [w for w in cluster.writes(since, op.user) if w.ok]
