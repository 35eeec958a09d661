"""Running a built image's filesystem the way the Deployment runs the container, without a container
runtime: the image's root filesystem read-only, a fresh tmpfs on ``/tmp`` (the emptyDir), the
service-account files at ``/var/run/secrets/kubernetes.io/serviceaccount``, as the image's ``USER``
with no capabilities and ``no_new_privs``, with the image's ``Env``, ``WorkingDir`` and ``Entrypoint``.

The root filesystem comes from the builder: ``buildah mount`` of a working container of the image
(``buildah run`` would run the process but cannot make the root read-only), or ``docker export`` of a
created container. :func:`start` then enters a private mount namespace (``unshare --mount``, root
only) in which that directory is bind-mounted read-only with ``/proc``, ``/dev`` and the tmpfs mounts
below it, and ``chroot --userspec`` switches root and user in one step (the host's chroot and
setpriv; nothing is added to the image). The network is the host's: the operator reaches the local
cluster on loopback, and its probe and metrics ports are on the host's loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aimctl.devcluster.image import Builder

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass
class ImageRoot:
    """A mounted (or exported) root filesystem of an image, with its OCI config."""

    root: Path
    config: dict[str, Any]
    user: str = field(init=False)

    def __post_init__(self) -> None:
        self.user = str(self.config.get("User") or "0:0")

    @property
    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env") or [])

    def site_packages(self, venv: str = "/opt/aimctl") -> Path:
        found = sorted((self.root / venv.lstrip("/") / "lib").glob("python3.*/site-packages"))
        if len(found) != 1:
            raise RuntimeError(f"expected one site-packages below {venv}/lib in the image, found {found}")
        return found[0]


def image_config(builder: Builder, image: str) -> dict[str, Any]:
    """The image's OCI config (``Env``, ``User``, ``Entrypoint``, ``WorkingDir``, ``Labels`` ...)."""
    if builder.kind == "docker":
        return dict(json.loads(builder.run("image", "inspect", image).stdout)[0]["Config"])
    data = json.loads(builder.run("inspect", "--type", "image", image).stdout)
    config = data["OCIv1"].get("config") or {}
    return {
        "Env": config.get("Env"),
        "User": config.get("User"),
        "Entrypoint": config.get("Entrypoint"),
        "Cmd": config.get("Cmd"),
        "WorkingDir": config.get("WorkingDir"),
        "Labels": config.get("Labels"),
        "ExposedPorts": config.get("ExposedPorts"),
    }


@contextlib.contextmanager
def image_root(builder: Builder, image: str) -> Iterator[ImageRoot]:
    """The image's root filesystem as a host directory, for as long as the context lasts."""
    config = image_config(builder, image)
    name = f"aimctl-test-{uuid.uuid4().hex[:8]}"
    if builder.kind == "docker":
        builder.run("create", "--name", name, image)
        try:
            with tempfile.TemporaryDirectory(prefix="image-root.") as tmp:
                export = subprocess.Popen([*builder.argv, "export", name], stdout=subprocess.PIPE)
                assert export.stdout is not None
                with tarfile.open(fileobj=export.stdout, mode="r|") as tar:
                    tar.extractall(tmp, filter="tar")
                if export.wait() != 0:
                    raise RuntimeError(f"docker export {name} failed")
                yield ImageRoot(Path(tmp), config)
        finally:
            builder.run("rm", name, check=False)
        return
    builder.run("from", "--pull=never", "--name", name, image)
    try:
        yield ImageRoot(Path(builder.run("mount", name).stdout.strip()), config)
    finally:
        builder.run("umount", name, check=False)
        builder.run("rm", name, check=False)


def _inside(root: Path, path: str) -> Path:
    """``path`` of the image, as a host path below ``root``, following the image's own symlinks
    (``/var/run`` is a link to ``/run`` on Debian) without ever leaving ``root``."""
    current = root
    for part in Path(path).parts[1:]:
        candidate = current / part
        if candidate.is_symlink():
            target = os.readlink(candidate)
            candidate = _inside(root, target) if target.startswith("/") else (current / target)
        current = candidate
    return current


def start(
    image: ImageRoot,
    argv: list[str] | None = None,
    *,
    entrypoint: list[str] | None = None,
    env: dict[str, str] | None = None,
    service_account: dict[str, bytes] | None = None,
    stdout: Any = subprocess.PIPE,
    work: Path,
) -> subprocess.Popen[bytes]:
    """Start ``ENTRYPOINT + argv`` (or ``entrypoint + argv``) in ``image`` as the pod would.

    ``work`` is a host directory for the service-account files (copied into a tmpfs before start)."""
    root = shlex.quote(str(image.root))
    uid, _, gid = image.user.partition(":")
    gid = gid or uid
    lines = [
        "set -e",
        "mount --make-rprivate /",
        f"mount --bind {root} {root}",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
        f"mount --make-rslave {root}/dev",
        f"mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {root}/tmp",
    ]
    if service_account:
        stage = work / f"sa-{uuid.uuid4().hex[:6]}"
        stage.mkdir(parents=True)
        for name, content in service_account.items():
            (stage / name).write_bytes(content)
        # The top directory of SA_DIR that exists in the image gets a tmpfs holding the files (the
        # kubelet's projected volume); the image itself is not written to.
        top = _inside(image.root, "/" + Path(SA_DIR).parts[1] + "/" + Path(SA_DIR).parts[2])
        if not top.is_dir():
            raise RuntimeError(f"the image has no {top.relative_to(image.root)} to mount the service account on")
        target = _inside(image.root, SA_DIR)
        lines += [
            f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(top))}",
            f"mkdir -p {shlex.quote(str(target))}",
            f"cp {shlex.quote(str(stage))}/* {shlex.quote(str(target))}/",
            f"chmod 644 {shlex.quote(str(target))}/*",
            f"mount -o remount,ro {shlex.quote(str(top))}",
        ]
    lines.append(f"mount -o remount,bind,ro {root}")
    cmd = [*(entrypoint if entrypoint is not None else image.config.get("Entrypoint") or []), *(argv or [])]
    workdir = image.config.get("WorkingDir") or "/"
    inner = f"cd {shlex.quote(workdir)} && exec " + shlex.join(cmd)
    lines.append(
        "exec setpriv --no-new-privs --inh-caps=-all "
        f"chroot --userspec={uid}:{gid} --groups={gid} {root} /bin/sh -c {shlex.quote(inner)}"
    )
    full_env = {"HOME": "/root", **image.env, **(env or {})}
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    return subprocess.Popen([unshare, "--mount", "/bin/sh", "-c", "\n".join(lines)], env=full_env,
                            stdout=stdout, stderr=subprocess.STDOUT)  # fmt: skip
