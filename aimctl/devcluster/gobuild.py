"""Go toolchain access for the development cluster: module lookup and reproducible offline builds.

Only the Go module proxy is reachable here, so the environment pins ``GOPROXY`` to the proxy with no
``direct`` fallback, keeps builds inside the module cache (``GOFLAGS=-mod=mod``), forbids toolchain
downloads (``GOTOOLCHAIN=local``) and builds static binaries (``CGO_ENABLED=0``). A user's explicit
``GOPROXY`` is respected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

DEFAULT_GOPROXY = "https://proxy.golang.org"


class GoError(RuntimeError):
    """A ``go`` command failed; the message carries its stderr tail."""


def go_env() -> dict[str, str]:
    """The environment for every ``go`` invocation (see the module docstring)."""
    env = dict(os.environ)
    env.setdefault("GOPROXY", DEFAULT_GOPROXY)
    env["GOFLAGS"] = "-mod=mod -buildvcs=false"
    env["GOTOOLCHAIN"] = "local"
    env["CGO_ENABLED"] = "0"
    return env


def go_binary() -> str:
    """Path of the ``go`` command, or a clear error naming what to install."""
    found = shutil.which("go")
    if found is None:
        raise GoError("the 'go' command is not on PATH: install Go 1.25 or newer to build the local cluster")
    return found


def run_go(
    args: list[str], cwd: Path | None = None, on_line: Callable[[str], None] | None = None, nice: int = 0
) -> str:
    """Run ``go <args>`` and return its stdout; raise :class:`GoError` with the stderr tail on failure.

    ``on_line`` receives each stderr line as it comes (``go build -v`` names each package it compiles
    there, ``go mod`` each module it downloads): the build's progress reporting counts them.
    ``nice`` > 0 lowers the build's CPU priority (``nice -n``) for tools built next to other work.
    """
    argv = [*(["nice", "-n", str(nice)] if nice > 0 else []), go_binary(), *args]
    if on_line is None:
        proc = subprocess.run(argv, cwd=cwd, env=go_env(), capture_output=True, text=True, check=False)
        code, stdout, stderr_lines = proc.returncode, proc.stdout, proc.stderr.strip().splitlines()
    else:
        code, stdout, stderr_lines = _streamed(argv, cwd, on_line)
    if code != 0:
        tail = "\n".join(stderr_lines[-25:])
        raise GoError(f"go {' '.join(args)} failed (exit {code}):\n{tail}")
    return stdout


def _streamed(argv: list[str], cwd: Path | None, on_line: Callable[[str], None]) -> tuple[int, str, list[str]]:
    """Run ``argv``, calling ``on_line`` per stderr line (stdout is collected by a thread, so neither
    pipe can fill up and block the child); returns (exit code, stdout, stderr lines)."""
    proc = subprocess.Popen(argv, cwd=cwd, env=go_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    lines: deque[str] = deque(maxlen=200)
    for raw in proc.stderr:
        line = raw.rstrip("\n")
        lines.append(line)
        on_line(line)
    code = proc.wait()
    reader.join()
    return code, "".join(chunks), list(lines)


def count_packages(packages: list[str], cwd: Path) -> int:
    """How many packages ``go build`` of ``packages`` compiles at most (``go list -deps``)."""
    out = run_go(["list", "-deps", *packages], cwd=cwd)
    return len([line for line in out.splitlines() if line.strip()])


def module_download(module: str, version: str) -> dict[str, str]:
    """``go mod download -json module@version``: returns its JSON (keys ``Dir``, ``GoMod``, ...)."""
    out = run_go(["mod", "download", "-json", f"{module}@{version}"])
    info: dict[str, str] = json.loads(out)
    if "Error" in info:
        raise GoError(f"cannot download {module}@{version}: {info['Error']}")
    return info


def module_dir(module: str, version: str) -> Path:
    """The read-only directory of ``module@version`` in the Go module cache (downloaded if needed)."""
    return Path(module_download(module, version)["Dir"])
