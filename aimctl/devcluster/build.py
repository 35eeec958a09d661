"""Build (once) and locate the Kubernetes binaries of the development cluster.

Binaries live outside the repository in ``$AIMCTL_CACHE_DIR/k8s/<versions>/bin`` (default
``~/.cache/aimctl``), keyed by :func:`aimctl.devcluster.versions.binaries_key`, so a developer
machine and CI build them once per version set. ``AIMCTL_K8S_BINARIES`` points at a directory of
prebuilt binaries instead (envtest or kind users); it must hold every name in :data:`BINARIES`.

Kubernetes itself is not directly buildable as a dependency: ``k8s.io/kubernetes`` requires its ~30
staging modules at ``v0.0.0`` and replaces them with local paths. A small generated build module
requires ``k8s.io/kubernetes`` and replaces each such staging module with its ``v0.N.x`` release.
A cold build takes roughly 15-25 minutes on two cores; later runs find the cache and return at once.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aimctl.devcluster import versions
from aimctl.devcluster.gobuild import GoError, count_packages, module_download, run_go
from aimctl.devcluster.progress import BuildProgress

BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
_STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/", re.MULTILINE)


def cache_root() -> Path:
    """Root of aimctl's caches: ``$AIMCTL_CACHE_DIR`` or ``~/.cache/aimctl``."""
    return Path(os.environ.get("AIMCTL_CACHE_DIR", Path.home() / ".cache" / "aimctl")).expanduser()


def default_bin_dir() -> Path:
    """Where the binaries of the pinned versions are cached."""
    return cache_root() / "k8s" / versions.binaries_key() / "bin"


@dataclass(frozen=True)
class Binaries:
    """Absolute paths of the cluster's executables."""

    directory: Path

    def path(self, name: str) -> Path:
        """Path of one executable, e.g. ``binaries.path("kube-apiserver")``."""
        if name not in BINARIES:
            raise KeyError(name)
        return self.directory / name

    def missing(self) -> list[str]:
        """Names of the executables that are absent or not executable."""
        return [n for n in BINARIES if not os.access(self.directory / n, os.X_OK)]


def staging_replacements(kubernetes_gomod: str, staging_version: str) -> list[str]:
    """``replace`` lines turning ``k8s.io/<staging> v0.0.0`` into ``k8s.io/<staging> <staging_version>``.

    The staging modules are exactly those that ``k8s.io/kubernetes``'s go.mod replaces with
    ``./staging/...`` paths (``k8s.io/utils`` and ``k8s.io/kube-openapi`` are ordinary modules and stay).
    """
    names = sorted(set(_STAGING_REPLACE.findall(kubernetes_gomod)))
    return [f"\t{name} v0.0.0 => {name} {staging_version}" for name in names]


def kubernetes_build_gomod(kubernetes_gomod: str, kubernetes: str = versions.KUBERNETES) -> str:
    """The go.mod of the build module for kube-apiserver, kube-controller-manager and kube-scheduler."""
    go_line = re.search(r"^go\s+(\S+)", kubernetes_gomod, re.MULTILINE)
    replaces = "\n".join(staging_replacements(kubernetes_gomod, versions.staging_version(kubernetes)))
    return (
        "module aimctl.local/k8sbuild\n\n"
        f"go {go_line.group(1) if go_line else '1.25.0'}\n\n"
        f"require k8s.io/kubernetes {kubernetes}\n\n"
        f"replace (\n{replaces}\n)\n"
    )


def _version_ldflags(kubernetes: str) -> str:
    """ldflags that stamp a real version into the binaries, so clients' version checks pass."""
    major, minor, _ = kubernetes.lstrip("v").split(".")
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={kubernetes}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return " ".join(flags)


def _tools_go(packages: list[str]) -> str:
    imports = "\n".join(f'\t_ "{p}"' for p in packages)
    return f"//go:build tools\n\npackage tools\n\nimport (\n{imports}\n)\n"


#: Steps of a cold build, for the progress line: one ``go mod tidy`` per module, one ``go build`` per binary.
BUILD_STEPS = 3 + len(BINARIES)


def _counting(progress: BuildProgress, prefix: str = "") -> Callable[[str], None]:
    """A stderr line handler that advances ``progress`` once per line (starting with ``prefix``)."""

    def on_line(line: str) -> None:
        if line and not line.startswith("#") and line.startswith(prefix):
            progress.advance()

    return on_line


def _build_module(
    workdir: Path, gomod: str, outputs: dict[str, str], out: Path, ldflags: str, progress: BuildProgress, label: str
) -> None:
    """Build each package of ``outputs`` (package → binary name) of a generated module into ``out``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "go.mod").write_text(gomod)
    (workdir / "tools.go").write_text(_tools_go(list(outputs)))
    progress.start(f"{label}: resolving and downloading Go modules (go mod tidy)", None, "modules downloaded")
    run_go(["mod", "tidy"], cwd=workdir, on_line=_counting(progress, "go: downloading"))
    for package, name in outputs.items():
        total = count_packages([package], workdir)
        progress.start(f"building {name}", total, "packages")
        run_go(["build", "-v", "-ldflags", ldflags, "-o", str(out / name), package], cwd=workdir,
               on_line=_counting(progress))  # fmt: skip


def build_all(bin_dir: Path, log: Callable[[str], None] = print, redraw: Callable[[str], None] | None = None) -> None:
    """Build every binary into ``bin_dir`` (atomically: a half-finished build never looks complete).

    Progress goes to ``log`` (one line per step and per 10 %) or, with ``redraw`` (a terminal), to a
    status line redrawn in place: step n of :data:`BUILD_STEPS`, packages compiled of the step's
    total, time left in the step (see :mod:`aimctl.devcluster.progress`).
    """
    progress = BuildProgress(BUILD_STEPS, log, redraw)
    log(f"building the local cluster's binaries once (cold: ~15-20 min on two cores) into {bin_dir}")
    bin_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="bin.partial.", dir=bin_dir.parent))
    work = bin_dir.parent / "build"
    try:
        _build_module(
            work / "etcd",
            f"module aimctl.local/etcdbuild\n\ngo 1.25.0\n\nrequire go.etcd.io/etcd/server/v3 {versions.ETCD}\n",
            {"go.etcd.io/etcd/server/v3": "etcd"},
            staging,
            "-s -w",
            progress,
            f"etcd {versions.ETCD}",
        )
        _build_module(
            work / "kwok",
            f"module aimctl.local/kwokbuild\n\ngo 1.25.0\n\nrequire sigs.k8s.io/kwok {versions.KWOK}\n",
            {"sigs.k8s.io/kwok/cmd/kwok": "kwok"},
            staging,
            f"-s -w -X sigs.k8s.io/kwok/pkg/consts.Version={versions.KWOK.lstrip('v')}",
            progress,
            f"kwok {versions.KWOK}",
        )
        kube_gomod = Path(module_download("k8s.io/kubernetes", versions.KUBERNETES)["GoMod"]).read_text()
        _build_module(
            work / "kubernetes",
            kubernetes_build_gomod(kube_gomod),
            {f"k8s.io/kubernetes/cmd/{c}": c for c in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")},
            staging,
            _version_ldflags(versions.KUBERNETES),
            progress,
            f"Kubernetes {versions.KUBERNETES}",
        )
        missing = [n for n in BINARIES if not (staging / n).exists()]
        if missing:
            raise GoError(f"build finished without producing {missing}")
        if bin_dir.exists():
            shutil.rmtree(bin_dir)
        staging.rename(bin_dir)
        progress.done(f"built {', '.join(BINARIES)} into {bin_dir}")
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def ensure_binaries(log: Callable[[str], None] = print, redraw: Callable[[str], None] | None = None) -> Binaries:
    """The cluster's binaries: ``$AIMCTL_K8S_BINARIES`` if set, else the cache (built when absent)."""
    prebuilt = os.environ.get("AIMCTL_K8S_BINARIES")
    if prebuilt:
        binaries = Binaries(Path(prebuilt).expanduser().resolve())
        if missing := binaries.missing():
            raise FileNotFoundError(
                f"AIMCTL_K8S_BINARIES={prebuilt} lacks {', '.join(missing)}: point it at a directory "
                f"holding {', '.join(BINARIES)}, or unset it to build them"
            )
        return binaries
    binaries = Binaries(default_bin_dir())
    if binaries.missing():
        build_all(binaries.directory, log, redraw)
    return binaries
