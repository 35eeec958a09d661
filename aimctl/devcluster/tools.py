"""Developer tools built from Go modules on first use: kustomize and helm.

Why build it: ``deploy/`` is plain kustomize, and the tests render every kustomization exactly as
``kubectl apply -k`` or ``kustomize build`` would. A kustomize binary is not something the machine
can be assumed to have, and a Python re-implementation of kustomize would be a second source of truth.
``sigs.k8s.io/kustomize/kustomize/v5`` is a Go module, so it is built like the cluster's binaries
(:mod:`aimctl.devcluster.build`), through the module proxy, about 40 s once.

The binary lives in ``$AIMCTL_CACHE_DIR/tools/kustomize-<version>/kustomize`` — deliberately not in
the Kubernetes binary cache, whose key would otherwise change and force a rebuild of Kubernetes.
``AIMCTL_KUSTOMIZE`` points at an existing kustomize instead (any v5).

helm (``helm.sh/helm/v3``, command ``cmd/helm``) is built the same way, for the chart of
``deploy/chart/aimctl`` (``helm lint``, ``helm template``, ``helm install`` in the tests), into
``$AIMCTL_CACHE_DIR/tools/helm-<version>/helm``; about two minutes of CPU once, run under ``nice``.
``AIMCTL_HELM`` points at an existing helm 3 instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from aimctl.devcluster import versions
from aimctl.devcluster.build import cache_root
from aimctl.devcluster.gobuild import GoError, run_go

KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
HELM_MODULE = "helm.sh/helm/v3"


def kustomize_path() -> Path:
    """Where the pinned kustomize is (or will be) cached."""
    return cache_root() / "tools" / f"kustomize-{versions.KUSTOMIZE}" / "kustomize"


def _go_build(
    out: Path,
    tool: str,
    go: str,
    module: str,
    version: str,
    package: str,
    log: Callable[[str], None],
    ldflags: Callable[[Path], list[str]] = lambda _work: [],
    nice: int = 0,
) -> None:
    """Build ``package`` of Go ``module`` at ``version`` into ``out`` (atomically: a failed build leaves
    nothing at ``out``), in a throw-away module requiring it. ``ldflags(work)`` adds linker flags once
    the module is tidied (it may read the module graph in ``work``); ``-s -w`` are always given."""
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {tool} {version} ...")
    with tempfile.TemporaryDirectory(prefix=f"{tool}-build.", dir=out.parent) as tmp:
        work = Path(tmp)
        (work / "go.mod").write_text(f"module aimctl.local/{tool}build\n\ngo {go}\n\nrequire {module} {version}\n")
        (work / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{package}"\n')
        run_go(["mod", "tidy"], cwd=work)
        partial = work / tool
        flags = " ".join(["-s", "-w", *ldflags(work)])
        run_go(["build", "-ldflags", flags, "-o", str(partial), package], cwd=work, nice=nice)
        if not partial.exists():
            raise GoError(f"go build finished without producing {tool}")
        partial.replace(out)


def build_kustomize(out: Path, log: Callable[[str], None] = print) -> None:
    """Build kustomize at :data:`versions.KUSTOMIZE` into ``out`` (atomically)."""
    _go_build(out, "kustomize", "1.24.0", KUSTOMIZE_MODULE, versions.KUSTOMIZE, KUSTOMIZE_MODULE, log)


def _ensure_tool(
    override: str, path: Path, build: Callable[[Path, Callable[[str], None]], None], log: Callable[[str], None]
) -> Path:
    """The executable named by the environment variable ``override`` when set (a path or a name on
    ``PATH``), else the cached build at ``path``, built by ``build`` when absent."""
    explicit = os.environ.get(override)
    if explicit:
        found = shutil.which(explicit) or explicit
        if not os.access(found, os.X_OK):
            raise FileNotFoundError(f"{override}={explicit} is not an executable")
        return Path(found)
    if not os.access(path, os.X_OK):
        build(path, log)
    return path


def ensure_kustomize(log: Callable[[str], None] = print) -> Path:
    """A kustomize executable: ``$AIMCTL_KUSTOMIZE``, else the cached build (built when absent)."""
    return _ensure_tool("AIMCTL_KUSTOMIZE", kustomize_path(), build_kustomize, log)


def kustomize_build(directory: Path, log: Callable[[str], None] = print) -> str:
    """``kustomize build <directory>``: the rendered multi-document YAML."""
    proc = subprocess.run(
        [str(ensure_kustomize(log)), "build", str(directory)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"kustomize build {directory} failed (exit {proc.returncode}):\n{proc.stderr.strip()}")
    return proc.stdout


def helm_path() -> Path:
    """Where the pinned helm is (or will be) cached."""
    return cache_root() / "tools" / f"helm-{versions.HELM}" / "helm"


def build_helm(out: Path, log: Callable[[str], None] = print) -> None:
    """Build helm's ``cmd/helm`` at :data:`versions.HELM` into ``out`` (atomically), at low CPU priority:
    the machine may be building or running a cluster at the same time."""

    def ldflags(work: Path) -> list[str]:
        # As helm's own Makefile: the version, and the Kubernetes version `helm template` and `helm lint`
        # assume (that of its client-go, v0.N.x -> 1.N; left unset it is 1.20).
        client_go = run_go(["list", "-m", "-f", "{{.Version}}", "k8s.io/client-go"], cwd=work).strip()
        minor = client_go.lstrip("v").split(".")[1]
        flags = [f"-X helm.sh/helm/v3/internal/version.version={versions.HELM}"]
        for pkg in ("pkg/lint/rules", "pkg/chartutil"):
            prefix = f"-X helm.sh/helm/v3/{pkg}.k8sVersion"
            flags += [f"{prefix}Major=1", f"{prefix}Minor={minor}"]
        return flags

    _go_build(out, "helm", "1.25.0", HELM_MODULE, versions.HELM, f"{HELM_MODULE}/cmd/helm", log, ldflags, nice=10)


def ensure_helm(log: Callable[[str], None] = print) -> Path:
    """A helm executable: ``$AIMCTL_HELM``, else the cached build (built when absent)."""
    return _ensure_tool("AIMCTL_HELM", helm_path(), build_helm, log)
