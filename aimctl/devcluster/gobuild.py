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


def run_go(args: list[str], cwd: Path | None = None, nice: bool = False) -> str:
    """Run ``go <args>`` and return its stdout; raise :class:`GoError` with the stderr tail on failure.

    ``nice`` runs it at a lower priority (``nice -n 10``) when ``nice`` exists: long builds on a shared
    machine then leave room for everything else.
    """
    prefix = ["nice", "-n", "10"] if nice and shutil.which("nice") else []
    proc = subprocess.run(
        [*prefix, go_binary(), *args], cwd=cwd, env=go_env(), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-25:])
        raise GoError(f"go {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


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
