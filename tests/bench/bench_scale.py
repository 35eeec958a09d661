"""Scale benchmark (issue 18): N AIMServices on one cluster template, a real ``aimctl run``, timed
until every service reports Running; with the apiserver's write floor measured in the same run.

Run on demand (``make bench``; never a timed test)::

    python -m tests.bench.bench_scale [--services 1000] [--idle 60] [--operator-arg=--workers=8 ...]

Defaults come from the environment too: ``AIMCTL_BENCH_SERVICES`` (1 000; 10 000 for the large run),
``AIMCTL_BENCH_IDLE_SECONDS`` (60), ``AIMCTL_BENCH_CLUSTER_NAME`` (``bench``) and
``AIMCTL_BENCH_PORT_BASE`` (the cluster's default). Each run starts that local cluster **from empty**
(it is destroyed first, and after the run unless ``--keep``), *without* KServe's controller: a
stand-in (:mod:`tests.sim.inferenceservice_ready_on_sight`) marks each InferenceService Ready on
sight, so the figures are the operator's and the apiserver's, not KServe's and kwok's.

What happens:

1. the AIM CRDs, the namespace ``aim-system`` and 10 namespaces ``bench-0..9``; one AIMClusterImage
   whose default template is one AIMClusterServiceTemplate, discovered for real (a kwok pod whose log
   prints the aimdummy result) by the operator;
2. ``aimctl run`` as a subprocess with default flags (only the metrics and probe addresses are moved
   to free loopback ports, so runs on a shared machine do not collide; ``--operator-arg`` adds flags),
   until the template is Available;
3. N AIMServices created round-robin across the 10 namespaces with 32 creates in flight (as fast as
   the apiserver takes them); the harness watches every AIMService (one watch, no polling) and
   records when each first reports ``status.status == Running``;
4. an idle window (``--idle`` seconds) with nothing changing;
5. the operator is stopped; then two floors, each a plain aiohttp client (no operator code) with 32
   requests in flight, making as many writes as the apiserver counted for the operator while it
   converged:

   * the **write floor** (what every time figure is a ratio to): the operator's writes *replayed*,
     per resource and subresource as counted, with the operator's verbs and bodies of the same shape
     and size (server-side applies of an AIMService status onto the existing services, server-side
     apply creates of InferenceServices under fresh names, ``events.k8s.io/v1`` creates; anything
     else as ConfigMap creates), shuffled: how fast this apiserver takes *these* writes, whoever
     sends them (``Plain.mix_floor``);
   * the **ConfigMap floor** (printed beside it): ConfigMap creates of ~1 KiB across the same
     namespaces, the cheapest write there is: how fast the apiserver takes writes at all. The
     operator's server-side applies of custom resources cost it 2-4x more each (mean latencies per
     kind are printed with the write floor; figures in ``docs/architecture.md``).

Printed: converge time (first create sent → last service Running), per-service latency p50/p99
(its create sent → Running seen), operator CPU seconds over the converge window and per service
(``/proc/<pid>/stat`` utime+stime), peak RSS (``VmHWM``), the operator's writes per service by
resource (the apiserver's ``apiserver_request_total`` over the window, less the harness's own writes,
which it counts), writes during the idle window, and each time figure's ratio to the write floor
(converge also to the ConfigMap floor). Lease
renewals (kube-controller-manager, scheduler, kwok's node leases and the operator's leader election)
are shown apart and not counted as the operator's writes. Write counts are read once no other write
happened for 2 s (events trail the last status). Nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import anyio
from kubernetes_asyncio import client, config
from prometheus_client.parser import text_string_to_metric_families

from tests.sim.inferenceservice_ready_on_sight import ReadyOnSight
from tests.sim.pod_logs import serve_logs
from tests.sim.watch import Obj, Watcher
from tests.support import kube
from tests.support.aim_crds import CRD_PATH, FIELD_MANAGER, load_crds
from tests.support.services import API, discovery_output, image, template

REPO = Path(__file__).resolve().parents[2]
OPERATOR_NAMESPACE = "aim-system"
NAMESPACES = [f"bench-{i}" for i in range(10)]
IN_FLIGHT = 32
READ_VERBS = {"GET", "LIST", "WATCH", "CONNECT"}
Counts = dict[tuple[str, str], float]  # (group/resource, subresource) -> writes


# ---------------------------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (fields 14 and 15 of ``/proc/<pid>/stat``, after the command name)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def resource_name(group: str, resource: str) -> str:
    return f"{group}/{resource}" if group else resource


class Plain:
    """A plain aiohttp session with the cluster's admin certificate: the apiserver's metrics and the
    write floor (no kubernetes_asyncio, no operator code)."""

    def __init__(self, server: str, pki: Path) -> None:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        self.server = server
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=IN_FLIGHT * 2))

    async def close(self) -> None:
        await self.session.close()

    async def writes(self) -> Counts:
        """Write requests the apiserver has answered, by (group/resource, subresource)."""
        async with self.session.get(f"{self.server}/metrics") as resp:
            text = await resp.text()
        out: Counts = collections.defaultdict(float)
        for family in text_string_to_metric_families(text):
            if family.name != "apiserver_request":
                continue
            for s in family.samples:
                if s.name.endswith("_total") and s.labels.get("verb") not in READ_VERBS:
                    key = (resource_name(s.labels.get("group", ""), s.labels.get("resource", "")),
                           s.labels.get("subresource", ""))  # fmt: skip
                    out[key] += s.value
        return out

    async def floor(self, writes: int) -> tuple[float, float]:
        """``writes`` ConfigMap creates, 32 in flight; returns (seconds, this process's CPU seconds)."""
        payload = "x" * 1024
        names = iter(range(writes))
        errors = 0

        async def worker() -> None:
            nonlocal errors
            for i in names:
                ns = NAMESPACES[i % len(NAMESPACES)]
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"floor-{i}"},
                        "data": {"payload": payload}}  # fmt: skip
                url = f"{self.server}/api/v1/namespaces/{ns}/configmaps"
                async with self.session.post(url, json=body) as resp:
                    await resp.read()
                    errors += resp.status >= 300

        cpu0, t0 = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(IN_FLIGHT):
                tg.start_soon(worker)
        if errors:
            print(f"  (floor: {errors} writes failed)")
        return time.perf_counter() - t0, time.process_time() - cpu0

    async def samples(self, names: list[tuple[str, str]]) -> dict[str, Obj]:
        """One of each object the operator wrote while converging (read after it stopped): the first
        service (its status), its namespace's first InferenceService and first Event. The mix floor
        replays writes of the same shape and size."""
        ns, name = names[0]
        out: dict[str, Obj] = {}
        async with self.session.get(f"{self.server}/apis/{API}/namespaces/{ns}/aimservices/{name}") as resp:
            out["aimservice"] = await resp.json()
        for key, path in (("inferenceservice", f"/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"),
                          ("event", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")):  # fmt: skip
            async with self.session.get(f"{self.server}{path}", params={"limit": "1"}) as resp:
                items = (await resp.json()).get("items") or []
            if items:
                out[key] = items[0]
        return out

    async def mix_floor(
        self, mix: Counts, samples: dict[str, Obj], services: list[tuple[str, str]]
    ) -> tuple[float, float, int]:
        """The operator's writes replayed by a plain client, 32 in flight, in a shuffled order: per
        (resource, subresource) as many writes as the apiserver counted for the operator, each with the
        operator's verb and a body of the same shape and size (copied from the objects it wrote):

        * ``aimservices/status``: a server-side apply of the sampled service's status to an existing
          service (round-robin), with one condition's message changed so every write is a real change;
        * ``inferenceservices``: a server-side apply creating an InferenceService under a fresh name
          in the sampled one's namespace (its spec, labels, annotations and owner reference: an owner
          in another namespace would have the garbage collector delete each one, load the operator's
          run did not have);
        * ``events``: an ``events.k8s.io/v1`` create of the sampled event under a fresh name;
        * anything else (a handful at most): a ConfigMap create of ~1 KiB.

        Returns (seconds, this process's CPU seconds, failed writes); prints each kind's mean latency."""
        apply_query = {"fieldManager": "aimctl-bench-floor", "force": "true"}
        apply_headers = {"Content-Type": "application/apply-patch+yaml"}
        svc, isvc, event = samples.get("aimservice"), samples.get("inferenceservice"), samples.get("event")
        plan: list[str] = []
        for (resource, sub), count in mix.items():
            kind = {("aim.silogen.ai/aimservices", "status"): "status",
                    ("serving.kserve.io/inferenceservices", ""): "isvc",
                    ("events.k8s.io/events", ""): "event"}.get((resource, sub), "other")  # fmt: skip
            if (
                (kind == "status" and svc is None)
                or (kind == "isvc" and isvc is None)
                or (kind == "event" and event is None)
            ):
                kind = "other"
            plan.extend([kind] * round(count))
        random.Random(18).shuffle(plan)
        todo = enumerate(plan)  # the position names the write: fresh names never collide
        errors = 0

        def keep_meta(obj: Obj, name: str, ns: str) -> dict[str, Any]:
            meta = obj.get("metadata") or {}
            kept = {k: meta[k] for k in ("labels", "annotations", "ownerReferences") if k in meta}
            return {"name": name, "namespace": ns, **kept}

        async def send(kind: str, i: int) -> int:
            ns = NAMESPACES[i % len(NAMESPACES)]
            if kind == "status" and svc is not None:
                ns, name = services[i % len(services)]
                status = copy.deepcopy(svc.get("status") or {})
                conditions = status.get("conditions") or [{}]
                conditions[0]["message"] = f"{conditions[0].get('message', '')} (floor write {i})"
                status["conditions"] = conditions
                body = {"apiVersion": svc["apiVersion"], "kind": svc["kind"],
                        "metadata": {"name": name, "namespace": ns}, "status": status}  # fmt: skip
                url = f"{self.server}/apis/{API}/namespaces/{ns}/aimservices/{name}/status"
                method, query, headers = "PATCH", apply_query, apply_headers
            elif kind == "isvc" and isvc is not None:
                name, ns = f"floor-{i:05d}", isvc["metadata"]["namespace"]
                body = {"apiVersion": isvc["apiVersion"], "kind": isvc["kind"], "metadata": keep_meta(isvc, name, ns),
                        "spec": isvc.get("spec") or {}}  # fmt: skip
                url = f"{self.server}/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}"
                method, query, headers = "PATCH", apply_query, apply_headers
            elif kind == "event" and event is not None:
                body = {k: v for k, v in event.items() if k not in ("metadata", "deprecatedFirstTimestamp",
                        "deprecatedLastTimestamp", "deprecatedCount", "deprecatedSource")}  # fmt: skip
                body["metadata"] = {"name": f"floor.{i:x}", "namespace": ns}
                url = f"{self.server}/apis/events.k8s.io/v1/namespaces/{ns}/events"
                method, query, headers = "POST", {}, {}
            else:
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"floor-other-{i}"},
                        "data": {"payload": "x" * 1024}}  # fmt: skip
                url = f"{self.server}/api/v1/namespaces/{ns}/configmaps"
                method, query, headers = "POST", {}, {}
            data = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **headers}
            start = time.perf_counter()
            async with self.session.request(method, url, params=query, data=data, headers=headers) as resp:
                await resp.read()
            latency[kind].append(time.perf_counter() - start)
            return int(resp.status >= 300)

        latency: dict[str, list[float]] = collections.defaultdict(list)

        async def worker() -> None:
            nonlocal errors
            for i, kind in todo:
                errors += await send(kind, i)

        cpu0, t0 = time.process_time(), time.perf_counter()
        async with anyio.create_task_group() as tg:
            for _ in range(IN_FLIGHT):
                tg.start_soon(worker)
        seconds = time.perf_counter() - t0
        means = [f"{kind} {sum(v) / len(v) * 1e3:.0f} ms x {len(v)}" for kind, v in sorted(latency.items())]
        print(f"  (write floor: mean latency {', '.join(means)})")
        return seconds, time.process_time() - cpu0, errors


def minus(a: Counts, b: Counts, harness: Counts | None = None) -> Counts:
    out: Counts = {}
    for key in set(a) | set(b) | set(harness or {}):
        value = a.get(key, 0.0) - b.get(key, 0.0) - (harness or {}).get(key, 0.0)
        if value:
            out[key] = value
    return out


def split_leases(counts: Counts) -> tuple[Counts, float]:
    leases = sum(v for (r, _), v in counts.items() if r == "coordination.k8s.io/leases")
    return {k: v for k, v in counts.items() if k[0] != "coordination.k8s.io/leases"}, leases


def label(key: tuple[str, str]) -> str:
    resource, sub = key
    short = resource.split("/")[-1]
    return f"{short}/{sub}" if sub else short


# ---------------------------------------------------------------------------------------------- operator
@dataclass
class OperatorRun:
    kubeconfig: Path
    log_path: Path
    extra_args: list[str]
    metrics_url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    lag_max_cpu: float = float("nan")

    def start(self) -> None:
        metrics_port, probe_port = free_port(), free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIMCTL_")}
        env.update({"KUBECONFIG": str(self.kubeconfig), "AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE,
                    "POD_NAMESPACE": OPERATOR_NAMESPACE, "POD_NAME": "aimctl-bench",
                    "PYTHONUNBUFFERED": "1"})  # fmt: skip
        argv = [sys.executable, "-m", "aimctl.cli.main", "run",
                "--metrics-bind-address", f"127.0.0.1:{metrics_port}",
                "--health-probe-bind-address", f"127.0.0.1:{probe_port}", *self.extra_args]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"aimctl run exited ({self.proc.returncode}):\n{tail}")

    def own_writes(self) -> dict[str, float]:
        """The operator's own count of its writes by resource (``aim_api_requests_total``)."""
        import urllib.request

        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            text = resp.read().decode()
        out: dict[str, float] = collections.defaultdict(float)
        for family in text_string_to_metric_families(text):
            if family.name == "aim_api_requests":
                for s in family.samples:
                    if s.name.endswith("_total") and s.labels.get("verb") in {
                        "create",
                        "update",
                        "patch",
                        "apply",
                        "delete",
                    }:
                        out[s.labels.get("resource", "")] += s.value
        return out

    def loop_lag(self) -> tuple[float, float, float, int]:
        """The operator's event-loop lag (``aim_event_loop_lag_*``): (max seconds, share of 100 ms
        samples over 100 ms late, over 1 s late, samples)."""
        import urllib.request

        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            text = resp.read().decode()
        buckets: dict[float, float] = {}
        lag_max, count = 0.0, 0.0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name == "aim_event_loop_lag_seconds_bucket":
                    buckets[float(s.labels["le"])] = s.value
                elif s.name == "aim_event_loop_lag_seconds_count":
                    count = s.value
                elif s.name == "aim_event_loop_lag_max_seconds":
                    lag_max = s.value
                elif s.name == "aim_event_loop_lag_max_cpu_seconds":
                    self.lag_max_cpu = s.value
        if not count:
            return float("nan"), float("nan"), float("nan"), 0
        return lag_max, 1 - buckets.get(0.1, count) / count, 1 - buckets.get(1.0, count) / count, int(count)

    def gc_pauses(self) -> tuple[int, float]:
        """Full (generation 2) garbage collections of the operator: (count, total seconds)."""
        import urllib.request

        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            text = resp.read().decode()
        count, total = 0, 0.0
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.labels.get("generation") == "2" and s.name == "aim_gc_pause_seconds_count":
                    count = int(s.value)
                elif s.labels.get("generation") == "2" and s.name == "aim_gc_pause_seconds_sum":
                    total = s.value
        return count, total

    def step_downs(self) -> int:
        """Times the operator lost its leader lease (its log says so on each step-down)."""
        return self.log_path.read_text(errors="replace").count("failed to renew lease within the renew deadline")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------------------------------------- the run
@dataclass
class Figures:
    services: int
    converge: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    cpu_total: float = 0.0
    rss: float = 0.0
    writes: Counts = field(default_factory=dict)
    leases: float = 0.0
    own: dict[str, float] = field(default_factory=dict)
    idle: Counts = field(default_factory=dict)
    idle_leases: float = 0.0
    own_idle: dict[str, float] = field(default_factory=dict)
    idle_seconds: float = 0.0
    floor_writes: int = 0
    floor_seconds: float = 0.0
    floor_cpu: float = 0.0
    mix_floor_seconds: float = 0.0
    mix_floor_cpu: float = 0.0
    mix_floor_errors: int = 0
    standin_errors: int = 0
    lag: tuple[float, float, float, int] = (float("nan"), float("nan"), float("nan"), 0)
    step_downs: int = 0
    lag_max_cpu: float = float("nan")
    gc_full: tuple[int, float] = (0, 0.0)
    harness_lists: int = 0
    harness_watches: int = 0


async def wait_until(predicate: Any, timeout: float, what: str, op: OperatorRun | None = None) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not predicate():
        if op is not None:
            op.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        await anyio.sleep(0.05)


async def settled(plain: Plain, quiet: float = 2.0, limit: float = 30.0) -> Counts:
    """The apiserver's write counts once no write but lease renewals happened for ``quiet`` seconds
    (at most ``limit`` seconds): events posted off the reconcile's critical path trail the status."""
    counts = await plain.writes()
    still_since, deadline = time.monotonic(), time.monotonic() + limit
    while time.monotonic() - still_since < quiet and time.monotonic() < deadline:
        await anyio.sleep(0.5)
        fresh = await plain.writes()
        if split_leases(minus(fresh, counts))[0]:
            still_since = time.monotonic()
        counts = fresh
    return counts


async def install_crds(api: client.ApiClient) -> None:
    crds = load_crds()
    for crd in crds:
        await kube.apply(api, f"{CRD_PATH}/{crd['metadata']['name']}", crd, manager=FIELD_MANAGER)
    for crd in crds:
        path = f"{CRD_PATH}/{crd['metadata']['name']}"
        for _ in range(600):
            got = await kube.get(api, path)
            if any(
                c["type"] == "Established" and c["status"] == "True"
                for c in got.get("status", {}).get("conditions", [])
            ):
                break
            await anyio.sleep(0.1)


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling the operator (``--nonblocking``: the process is never paused) into ``output``
    (raw collapsed stacks: ``py-spy``'s ``--format raw``, one line per stack with its sample count)."""
    py_spy = Path(sys.executable).with_name("py-spy")
    argv = [str(py_spy), "record", "--pid", str(pid), "--nonblocking", "--rate", "50", "--format", "raw",
            "--output", str(output)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def bench(
    kubeconfig: Path,
    server: str,
    pki: Path,
    n: int,
    idle: float,
    extra: list[str],
    workdir: Path,
    profile: Path | None = None,
) -> Figures:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    cfg.connection_pool_maxsize = IN_FLIGHT * 4
    figures = Figures(services=n, idle_seconds=idle)
    op = OperatorRun(kubeconfig, workdir / "operator.log", extra)
    plain = Plain(server, pki)
    async with client.ApiClient(cfg) as api:
        await install_crds(api)
        for ns in [OPERATOR_NAMESPACE, *NAMESPACES]:
            await kube.create(
                api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        await serve_logs(api, OPERATOR_NAMESPACE, discovery_output(), workdir, name="bench-discovery")
        img, tpl = image("bench-img", default="bench-tpl"), template("bench-tpl", "bench-img")
        for obj in (img, tpl):
            plural = obj["kind"].lower() + "s"
            await kube.apply(api, f"/apis/{API}/{plural}/{obj['metadata']['name']}", obj)

        op.start()
        tpl_path = f"/apis/{API}/aimclusterservicetemplates/bench-tpl"
        available = False
        deadline = time.monotonic() + 180
        while not available:
            op.check()
            if time.monotonic() > deadline:
                raise TimeoutError("the cluster template did not become Available within 180 s")
            available = ((await kube.get(api, tpl_path)).get("status") or {}).get("status") == "Available"
            await anyio.sleep(0.2)
        print(f"[bench] template Available; operator pid {op.pid}")

        names = [(NAMESPACES[i % len(NAMESPACES)], f"svc-{i:05d}") for i in range(n)]
        sent: dict[str, float] = {}
        running: dict[str, float] = {}

        def on_service(obj: Obj) -> None:
            if ((obj.get("status") or {}).get("status")) == "Running":
                key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
                running.setdefault(key, time.perf_counter())

        services = Watcher(api, f"/apis/{API}/aimservices", on_change=on_service)
        standin = ReadyOnSight(api)
        harness: Counts = collections.defaultdict(float)
        async with anyio.create_task_group() as tg:
            tg.start_soon(services.run)
            tg.start_soon(standin.run)
            await services.synced.wait()
            await standin.watcher.synced.wait()
            await anyio.sleep(2.0)  # let setup writes settle
            before = await plain.writes()
            cpu0 = cpu_seconds(op.pid)
            own0 = op.own_writes()

            todo = iter(names)

            async def creator() -> None:
                for ns, name in todo:
                    body = {"apiVersion": API, "kind": "AIMService", "metadata": {"name": name, "namespace": ns},
                            "spec": {"aimImageName": "bench-img"}}  # fmt: skip
                    sent[f"{ns}/{name}"] = time.perf_counter()
                    harness[(f"{API.split('/')[0]}/aimservices", "")] += 1
                    await kube.create(api, f"/apis/{API}/namespaces/{ns}/aimservices", body)

            profiler = start_profiler(op.pid, profile) if profile else None
            t0 = time.perf_counter()
            async with anyio.create_task_group() as creators:
                for _ in range(IN_FLIGHT):
                    creators.start_soon(creator)
            print(f"[bench] {n} services created in {time.perf_counter() - t0:.1f} s")
            await wait_until(lambda: len(running) >= n, 3600, f"{n} services Running", op)
            figures.converge = max(running.values()) - t0
            if profiler is not None:
                profiler.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
                profiler.wait(60)
            figures.latencies = [running[k] - sent[k] for k in sent]
            after = await settled(plain)  # writes that trail the last status (events) land in the window
            figures.cpu = cpu_seconds(op.pid) - cpu0
            figures.cpu_total = cpu_seconds(op.pid)
            harness[("serving.kserve.io/inferenceservices", "status")] += standin.writes
            figures.writes, figures.leases = split_leases(minus(after, before, harness))
            figures.own = {k: v - own0.get(k, 0.0) for k, v in op.own_writes().items() if v - own0.get(k, 0.0)}
            print(f"[bench] converged in {figures.converge:.1f} s; idle window {idle:.0f} s")

            standin_before = standin.writes
            own_before = op.own_writes()
            await anyio.sleep(idle)
            figures.own_idle = {
                k: v - own_before.get(k, 0.0) for k, v in op.own_writes().items() if v - own_before.get(k, 0.0)
            }
            idle_after = await plain.writes()
            idle_harness: Counts = {("serving.kserve.io/inferenceservices", "status"): standin.writes - standin_before}
            figures.idle, figures.idle_leases = split_leases(minus(idle_after, after, idle_harness))
            figures.rss = peak_rss_mib(op.pid)
            figures.standin_errors = standin.errors
            figures.lag = op.loop_lag()
            figures.step_downs = op.step_downs()
            figures.lag_max_cpu = op.lag_max_cpu
            figures.gc_full = op.gc_pauses()
            figures.harness_lists = services.lists + standin.watcher.lists
            figures.harness_watches = services.watches + standin.watcher.watches
            tg.cancel_scope.cancel()
        op.stop()
        figures.floor_writes = round(sum(figures.writes.values()))
        samples = await plain.samples(names)
        figures.floor_seconds, figures.floor_cpu = await plain.floor(figures.floor_writes)
        figures.mix_floor_seconds, figures.mix_floor_cpu, figures.mix_floor_errors = await plain.mix_floor(
            figures.writes, samples, names
        )
    await plain.close()
    return figures


def _area(frame: str) -> str:
    """``func (path:line)`` → what it belongs to: ``aimctl/controllers`` (a repository package), else
    the top-level module (``aiohttp``, ``json``, ``asyncio``; py-spy shortens paths to the module's)."""
    parts = Path(frame.rsplit("(", 1)[-1].split(":", 1)[0]).parts
    if not parts:
        return "?"
    if parts[0] in ("aimctl", "informers", "statemachines", "metrics", "tests") and len(parts) > 1:
        return "/".join(parts[:2]).removesuffix(".py")
    return parts[0].removesuffix(".py")


def _function(frame: str) -> str:
    """``func (path:line)`` → ``func (path)``: a function's samples together, whatever the line."""
    name, _, where = frame.strip().rpartition(" (")
    return f"{name} ({where.split(':', 1)[0]})"


def summarise_profile(path: Path, top: int = 15) -> None:
    """Where the sampled CPU went: by package of the innermost frame (self) and the busiest functions."""
    by_area: collections.Counter[str] = collections.Counter()
    by_leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if "(" in f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += int(count)
        by_area[_area(frames[-1])] += int(count)
        by_leaf[_function(frames[-1])] += int(count)
    if not total:
        print(f"  profile {path}: no samples")
        return
    print(f"  profile ({total} samples, self time by package of the innermost frame; raw stacks in {path}):")
    for area, samples in by_area.most_common(top):
        print(f"    {samples / total:6.1%}  {area}")
    print("  busiest functions (self):")
    for leaf, samples in by_leaf.most_common(top):
        print(f"    {samples / total:6.1%}  {leaf[:110]}")


def report(f: Figures, extra: list[str]) -> None:
    n = f.services
    floor, cm_floor = f.mix_floor_seconds or f.floor_seconds, f.floor_seconds
    flags = " ".join(extra) or "default flags"
    total = sum(f.writes.values())
    by_resource = ", ".join(f"{v / n:.2f} {label(k)}" for k, v in sorted(f.writes.items(), key=lambda kv: -kv[1]))
    own = ", ".join(f"{v / n:.2f} {k}" for k, v in sorted(f.own.items(), key=lambda kv: -kv[1]))
    idle = sum(f.idle.values())
    own_idle = ", ".join(f"{v:.0f} {k}" for k, v in f.own_idle.items()) or "none"
    idle_detail = ", ".join(f"{v:.0f} {label(k)}" for k, v in f.idle.items()) or "none"
    print()
    print(f"scale benchmark: {n} AIMServices, 10 namespaces, aimctl run ({flags}); cores: {os.cpu_count()}")
    print(
        f"  write floor: the operator's {f.floor_writes} writes replayed (same resources, verbs and body sizes; "
        f"plain aiohttp, {IN_FLIGHT} in flight) in {floor:.1f} s = {f.floor_writes / floor:.0f} writes/s, "
        f"client CPU {f.mix_floor_cpu:.1f} s" + (f", {f.mix_floor_errors} failed" if f.mix_floor_errors else "")
    )
    print(
        f"  ConfigMap floor: {f.floor_writes} ConfigMap creates of 1 KiB (plain aiohttp, {IN_FLIGHT} in flight) "
        f"in {cm_floor:.1f} s = {f.floor_writes / cm_floor:.0f} writes/s, client CPU {f.floor_cpu:.1f} s"
    )
    rows = [
        ("converge", f"{f.converge:.1f} s",
         f"{f.converge / floor:.2f}x floor, {f.converge / cm_floor:.2f}x ConfigMap floor"),
        ("per-service p50 / p99", f"{pct(f.latencies, 50):.1f} s / {pct(f.latencies, 99):.1f} s",
         f"{pct(f.latencies, 50) / floor:.2f}x / {pct(f.latencies, 99) / floor:.2f}x floor"),
        ("operator CPU (converge window)", f"{f.cpu:.1f} s ({f.cpu / n * 1e3:.1f} ms per service)",
         f"{f.cpu / max(f.mix_floor_cpu or f.floor_cpu, 1e-9):.1f}x the floor client's CPU"),
        ("operator CPU (whole process)", f"{f.cpu_total:.1f} s", ""),
        ("peak RSS", f"{f.rss:.0f} MiB", ""),
        ("writes per service", f"{total / n:.2f} ({by_resource})", f"operator's own count: {own}"),
        (f"writes in the idle {f.idle_seconds:.0f} s after", f"{idle:.0f} ({idle_detail})",
         f"lease renewals apart: {f.idle_leases:.0f}; operator's own count: {own_idle}"),
        ("lease renewals while converging", f"{f.leases:.0f} (all components, not counted above)", ""),
        ("operator event-loop lag",
         f"max {f.lag[0] * 1e3:.0f} ms (process CPU meanwhile {f.lag_max_cpu * 1e3:.0f} ms); "
         f"{f.lag[1]:.2%} of {f.lag[3]} 100 ms ticks over 100 ms late, {f.lag[2]:.2%} over 1 s",
         f"leader lease lost {f.step_downs} times"),
        ("operator's full garbage collections", f"{f.gc_full[0]} taking {f.gc_full[1]:.1f} s in all "
         f"(mean {f.gc_full[1] / max(f.gc_full[0], 1) * 1e3:.0f} ms)", ""),
        ("harness's own reads", f"{f.harness_lists} lists, {f.harness_watches} watches (services + stand-in)", ""),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    for name, value, ratio in rows:
        print(f"  {name:<{width}}  {value}" + (f"   [{ratio}]" if ratio else ""))
    if f.standin_errors:
        print(f"  (the stand-in's status patches failed {f.standin_errors} times and were retried)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=int(os.environ.get("AIMCTL_BENCH_SERVICES", "1000")))
    parser.add_argument("--idle", type=float, default=float(os.environ.get("AIMCTL_BENCH_IDLE_SECONDS", "60")))
    parser.add_argument("--cluster-name", default=os.environ.get("AIMCTL_BENCH_CLUSTER_NAME", "bench"))
    parser.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ["AIMCTL_BENCH_PORT_BASE"]) if os.environ.get("AIMCTL_BENCH_PORT_BASE") else None,
    )
    parser.add_argument("--operator-arg", action="append", default=[], help="an extra flag for aimctl run (repeat)")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the operator while it converges; raw stacks to this file"
    )
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()
    from aimctl.devcluster.cluster import DevCluster

    cluster = DevCluster(
        args.cluster_name, port_base=args.port_base, log=lambda m: print(f"[cluster] {m}"), kserve=False
    )
    cluster.destroy()
    cluster.up()
    workdir = Path(tempfile.mkdtemp(prefix="aimctl-bench-scale."))
    print(f"[bench] operator log: {workdir / 'operator.log'}")
    try:
        figures = anyio.run(bench, cluster.kubeconfig, cluster.server, cluster.layout.pki, args.services, args.idle,
                            args.operator_arg, workdir, args.profile, backend="asyncio")  # fmt: skip
        report(figures, args.operator_arg)
        if args.profile is not None:
            summarise_profile(args.profile)
    finally:
        if args.keep:
            print(f"[bench] cluster {cluster.name!r} left running: KUBECONFIG={cluster.kubeconfig}")
        else:
            cluster.destroy()


if __name__ == "__main__":
    main()
