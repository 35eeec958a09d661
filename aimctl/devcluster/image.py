"""Building the operator image from the repository's Dockerfile: ``docker`` where a Docker engine
answers, ``buildah`` otherwise (``make image``). One recipe, the Dockerfile; this module only picks the
builder and the base image.

The base: the Dockerfile's ``ARG PYTHON_IMAGE`` default is the official ``python`` slim image, pinned
by digest. Where that cannot be pulled (no Docker Hub: air-gapped machines, the test machines) and is
not already present, an equivalent base is generated from the Debian archive with ``mmdebstrap``: the
same Debian release, Debian's Python of the same minor version with ``python3-venv`` (``ensurepip``)
and ``python-is-python3`` (``/usr/bin/python``: the Dockerfile runs ``python``, which the official
image has in ``/usr/local/bin``; both are on ``PATH``, so the recipe needs no build argument for it),
``ca-certificates``, ``netbase`` and ``tzdata`` like the slim image; no documentation or locales. It is
named :data:`GENERATED_BASE` (``localhost/aimctl-base:<release>-python<minor>-mmdebstrap``) so that
nobody takes it for the pinned one. Its root filesystem is cached in
``$AIMCTL_CACHE_DIR/image-base/<name>-<recipe hash>/rootfs.tar`` (about 3 minutes to make once), and
imported into the builder's local storage when the builder lacks it (seconds).

``base`` (``make image IMAGE_BASE=...``) chooses: ``auto`` (default: the pinned base when present or
pullable, else the generated one, said on the log), ``pinned``, ``debian`` (the generated one) or any
image reference.

With buildah, layers are cached (``--layers``): a rebuild after a code change reruns only the wheel
step. The build's ``pip`` sees the host's pip configuration (``/etc/pip.conf``) and the CA bundle it
or ``PIP_CERT`` names, mounted read-only for the build only (nothing of them enters a layer): machines
behind a TLS-intercepting proxy reach PyPI as the host does. ``docker build`` has no such mounts.
``$BUILDAH`` (e.g. ``buildah --storage-driver vfs``) and ``$DOCKER`` override the commands.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aimctl.devcluster.build import cache_root

DEBIAN_RELEASE = "bookworm"
PYTHON_MINOR = "3.11"
GENERATED_BASE = f"localhost/aimctl-base:{DEBIAN_RELEASE}-python{PYTHON_MINOR}-mmdebstrap"
#: What the generated base installs on top of Debian's ``minbase`` (Essential packages and apt).
BASE_PACKAGES = ("python3", "python3-venv", "python-is-python3", "ca-certificates", "netbase", "tzdata")
BASE_MIRRORS = (
    f"deb http://deb.debian.org/debian {DEBIAN_RELEASE} main",
    f"deb http://deb.debian.org/debian {DEBIAN_RELEASE}-updates main",
    f"deb http://deb.debian.org/debian-security {DEBIAN_RELEASE}-security main",
)
BASE_DPKG_OPTIONS = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
)
#: The environment the official python images set (the generated base has no other config).
BASE_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8")


class ImageBuildError(RuntimeError):
    """The image could not be built; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Builder:
    """``kind`` is ``docker`` or ``buildah``; ``argv`` the command (with global flags)."""

    kind: str
    argv: tuple[str, ...]

    def run(self, *args: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*self.argv, *args], capture_output=capture, text=True, check=False)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout or "").strip() if capture else ""
            raise ImageBuildError(f"{shlex.join([*self.argv, *args])} failed ({proc.returncode}): {detail[-2000:]}")
        return proc

    def has_image(self, ref: str) -> bool:
        if self.kind == "docker":
            return self.run("image", "inspect", ref, check=False).returncode == 0
        return self.run("inspect", "--type", "image", ref, check=False).returncode == 0


def detect_builder() -> Builder:
    """``docker`` when ``docker info`` answers (an engine is reachable), else ``buildah``.

    Raises :class:`ImageBuildError` when neither can build here."""
    docker = shlex.split(os.environ.get("DOCKER", "docker"))
    if shutil.which(docker[0]):
        try:
            answered = subprocess.run([*docker, "info"], capture_output=True, timeout=20, check=False).returncode == 0
        except subprocess.TimeoutExpired:
            answered = False
        if answered:
            return Builder("docker", tuple(docker))
    buildah = shlex.split(os.environ.get("BUILDAH", "buildah"))
    if not shutil.which(buildah[0]):
        raise ImageBuildError(
            "no image builder: neither a Docker engine answers nor is buildah installed "
            "(`make image-tools` installs Debian's buildah and mmdebstrap)"
        )
    info = subprocess.run([*buildah, "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        raise ImageBuildError(f"buildah cannot use its storage here ({info.stderr.strip()[-500:]}); "
                              "run as root, or set BUILDAH='buildah --storage-driver vfs'")  # fmt: skip
    return Builder("buildah", tuple(buildah))


def pinned_base(dockerfile: Path) -> str:
    """The default of the Dockerfile's ``ARG PYTHON_IMAGE``."""
    match = re.search(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise ImageBuildError(f"{dockerfile} has no `ARG PYTHON_IMAGE=<default>`")
    return match.group(1)


def base_recipe_key() -> str:
    """Changes whenever the generated base's recipe does (so its cache entry does too)."""
    recipe = "\n".join([DEBIAN_RELEASE, *BASE_PACKAGES, *BASE_MIRRORS, *BASE_DPKG_OPTIONS, *BASE_ENV])
    return hashlib.sha256(recipe.encode()).hexdigest()[:12]


def base_rootfs_path() -> Path:
    """Where the generated base's root filesystem is (or will be) cached."""
    name = GENERATED_BASE.rsplit(":", 1)[1]
    return cache_root() / "image-base" / f"{name}-{base_recipe_key()}" / "rootfs.tar"


def make_base_rootfs(out: Path, log: Callable[[str], None] = print) -> None:
    """Make the generated base's root filesystem tarball with mmdebstrap (atomically; needs root)."""
    if not shutil.which("mmdebstrap"):
        raise ImageBuildError("mmdebstrap is missing: `make image-tools` installs it (Debian package mmdebstrap)")
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"making {GENERATED_BASE} from the Debian archive (mmdebstrap, a few minutes once) ...")
    with tempfile.TemporaryDirectory(prefix="rootfs.", dir=out.parent) as tmp:
        partial = Path(tmp) / "rootfs.tar"
        cmd = [
            "mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
            *(f"--dpkgopt={o}" for o in BASE_DPKG_OPTIONS),
            '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin',
            DEBIAN_RELEASE, str(partial), *BASE_MIRRORS,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ImageBuildError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        partial.replace(out)


def ensure_generated_base(builder: Builder, log: Callable[[str], None] = print) -> str:
    """:data:`GENERATED_BASE` in the builder's storage (made and cached first when needed)."""
    if builder.has_image(GENERATED_BASE):
        return GENERATED_BASE
    rootfs = base_rootfs_path()
    if not rootfs.exists():
        make_base_rootfs(rootfs, log)
    log(f"importing {rootfs} as {GENERATED_BASE} ...")
    if builder.kind == "docker":
        changes = [f"--change=ENV {e}" for e in BASE_ENV]
        builder.run("import", *changes, '--change=CMD ["python3"]', str(rootfs), GENERATED_BASE)
        return GENERATED_BASE
    container = builder.run("from", "scratch").stdout.strip()
    try:
        builder.run("add", container, str(rootfs), "/")
        about = (f"org.opencontainers.image.description=aimctl base made by mmdebstrap from Debian {DEBIAN_RELEASE} "
                 f"({', '.join(BASE_PACKAGES)}); not the official python image")  # fmt: skip
        env = [a for e in BASE_ENV for a in ("--env", e)]
        builder.run("config", *env, "--cmd", '["python3"]', "--label", about, container)
        builder.run("commit", container, GENERATED_BASE)
    finally:
        builder.run("rm", container, check=False)
    return GENERATED_BASE


def _pullable(builder: Builder, ref: str) -> bool:
    return builder.run("pull", ref, check=False).returncode == 0


def resolve_base(builder: Builder, base: str, dockerfile: Path, log: Callable[[str], None] = print) -> str:
    """The base image reference for ``base`` (``auto``, ``pinned``, ``debian`` or a reference)."""
    pinned = pinned_base(dockerfile)
    if base == "debian":
        return ensure_generated_base(builder, log)
    if base == "pinned":
        if not (builder.has_image(pinned) or _pullable(builder, pinned)):
            raise ImageBuildError(f"the pinned base {pinned} cannot be pulled here; IMAGE_BASE=debian generates one")
        return pinned
    if base != "auto":
        return base
    if builder.has_image(pinned) or _pullable(builder, pinned):
        return pinned
    log(f"the pinned base {pinned} cannot be pulled: using {GENERATED_BASE} (Debian archive, same release and Python)")
    return ensure_generated_base(builder, log)


def _pip_mounts() -> list[str]:
    """Read-only mounts giving the build's pip the host's pip configuration and CA bundle."""
    files: list[str] = []
    if Path("/etc/pip.conf").is_file():
        files.append("/etc/pip.conf")
        parser = configparser.ConfigParser()
        try:
            parser.read("/etc/pip.conf")
            files.append(parser.get("global", "cert", fallback=""))
        except configparser.Error:
            pass
    files.append(os.environ.get("PIP_CERT", ""))
    seen = [f for f in dict.fromkeys(files) if f and Path(f).is_file()]
    return [a for f in seen for a in ("--volume", f"{f}:{f}:ro")]


def build(
    tag: str,
    *,
    context: Path,
    base: str = "auto",
    builder: Builder | None = None,
    log: Callable[[str], None] = print,
    quiet: bool = False,
) -> tuple[Builder, str]:
    """Build ``context``/Dockerfile as ``tag``; returns the builder used and the base image it used."""
    builder = builder or detect_builder()
    dockerfile = context / "Dockerfile"
    ref = resolve_base(builder, base, dockerfile, log)
    log(f"building {tag} with {builder.kind} from {dockerfile} on {ref} ...")
    args = ["--build-arg", f"PYTHON_IMAGE={ref}", "--tag", tag, "--file", str(dockerfile)]
    if builder.kind == "docker":
        cmd = ["build", *args]
    else:
        # chroot isolation: the oci one needs namespaces that unprivileged containers (and CI) lack.
        cmd = ["bud", "--isolation", "chroot", "--layers", "--pull=never", *_pip_mounts(), *args]
    if quiet:
        cmd.append("--quiet")
    builder.run(*cmd, str(context), capture=quiet)
    return builder, ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimctl.devcluster.image", description=__doc__.split("\n\n")[0])
    parser.add_argument("--tag", default="aimctl:dev")
    parser.add_argument("--base", default=os.environ.get("IMAGE_BASE", "auto"),
                        help="auto (default), pinned, debian, or an image reference")  # fmt: skip
    parser.add_argument("--context", type=Path, default=Path.cwd())
    ns = parser.parse_args(argv)
    try:
        build(ns.tag, context=ns.context, base=ns.base)
    except ImageBuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
