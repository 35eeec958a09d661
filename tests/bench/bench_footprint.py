"""Footprint of ``aimctl run``: import time, and resident memory before the first AIM object.

Run on demand (not collected by pytest)::

    python -m tests.bench.bench_footprint [--kubeconfig PATH] [--python PATH] [--repeat 5]

``--python`` is the interpreter whose installed aimctl is measured (default: this one); point it at a
virtualenv made like the image's (``pip install --require-hashes --no-deps -r requirements.lock`` and
``pip install --no-deps .``) to measure what the image runs, or at one built from an older commit for
a baseline. Without ``--kubeconfig`` (or ``$KUBECONFIG``) it starts — or reuses — the local ``test``
cluster and leaves it running. It prints figures and asserts nothing.

What is measured:

* **import**: the modules ``aimctl run`` loads before it connects (the CLI entry point, the run
  command, the manager, the controllers) in a fresh interpreter: CPU and wall time (medians of
  ``--repeat`` runs; CPU time is the one to compare on a shared machine), the sum of every module's
  own time under ``python -X importtime``, and how many modules are loaded. Bytecode is cached
  first, as in the image (pip compiles what it installs): with ``PYTHONDONTWRITEBYTECODE`` set and
  no ``__pycache__`` in a source tree, every run would compile aimctl anew (~0.3 s of CPU), which is
  not what the image pays;
* **RSS before the first object**: ``aimctl run`` against the cluster with the AIM CRDs installed and
  no AIM object; once ``/readyz`` answers 200 (every cache synced) and 2 s have passed, ``VmRSS`` and
  ``VmHWM`` (peak) from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio

from aimctl.kube.client import ClientSettings, new_client
from tests.support.aim_crds import CRD_PATH, load_crds

IMPORTS = "import aimctl.cli.main, aimctl.cli.run, aimctl.manager, aimctl.controllers.registry"


def bench_env() -> dict[str, str]:
    """The environment of the measured processes: the image's ``TYPER_USE_RICH=0``, and bytecode
    written (see the module docstring)."""
    env = {**os.environ, "TYPER_USE_RICH": "0"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_figures(python: str, repeat: int) -> tuple[float, float, float, int]:
    """(sum of -X importtime self times, median wall time, median CPU time (user + system) of the
    imports, all in ms; modules loaded). CPU time is the figure to compare on a shared machine."""
    env = bench_env()
    # cache the bytecode of everything imported, so that no measured run compiles
    subprocess.run([python, "-c", IMPORTS], check=True, env=env, cwd=tempfile.gettempdir())
    done = subprocess.run(
        [python, "-X", "importtime", "-c", f"{IMPORTS}; import sys; print(len(sys.modules))"],
        capture_output=True, text=True, check=True, env=env, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    self_us = sum(int(m.group(1)) for m in re.finditer(r"import time:\s+(\d+) \|", done.stderr))
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([python, "-c", IMPORTS], check=True, env=env, cwd=tempfile.gettempdir())
        walls.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    return self_us / 1000, statistics.median(walls), statistics.median(cpus), int(done.stdout.strip())


async def install_crds(kubeconfig: Path) -> None:
    rest = await new_client(ClientSettings(kubeconfig=kubeconfig, qps=0))
    try:
        for crd in load_crds():
            path = f"{CRD_PATH}/{crd['metadata']['name']}"
            await rest.request("apply", path, body=crd, query=[("fieldManager", "bench"), ("force", "true")])
    finally:
        await rest.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_kib(pid: int, field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def rss_before_first_object(python: str, kubeconfig: Path) -> tuple[int, int, float]:
    """(VmRSS KiB, VmHWM KiB, seconds from start to /readyz 200) of ``aimctl run`` with no AIM object."""
    probe = free_port()
    argv = [python, "-m", "aimctl.cli.main", "run", "--kubeconfig", str(kubeconfig), "--no-leader-elect",
            "--metrics-bind-address", "0", "--health-probe-bind-address", f"127.0.0.1:{probe}"]  # fmt: skip
    env = bench_env()
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            cwd=tempfile.gettempdir())  # fmt: skip
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"aimctl run exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{probe}/readyz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - start > 120:
                raise SystemExit("/readyz did not turn 200 within 120 s")
            time.sleep(0.1)
        ready = time.monotonic() - start
        time.sleep(2)
        return status_kib(proc.pid, "VmRSS"), status_kib(proc.pid, "VmHWM"), ready
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--python", default=sys.executable, help="interpreter whose aimctl is measured")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        from aimctl.devcluster.cluster import DevCluster

        cluster = DevCluster("test", log=lambda m: print(f"[cluster] {m}"))
        cluster.up()
        kubeconfig = cluster.kubeconfig
    self_ms, wall_ms, cpu_ms, modules = import_figures(args.python, args.repeat)
    print(f"import: {cpu_ms:.0f} ms CPU, {wall_ms:.0f} ms wall (medians of {args.repeat}), {self_ms:.0f} ms "
          f"(sum of -X importtime self times), {modules} modules")  # fmt: skip
    anyio.run(install_crds, Path(kubeconfig), backend="asyncio")
    rss, hwm, ready = rss_before_first_object(args.python, Path(kubeconfig))
    print(f"before the first object: VmRSS {rss / 1024:.1f} MiB, VmHWM {hwm / 1024:.1f} MiB "
          f"(/readyz 200 after {ready:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
