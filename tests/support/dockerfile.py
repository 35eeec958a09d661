"""Building the operator image's filesystem layout without Docker, from the Dockerfile itself.

There is no container runtime on the test machines, so ``docker build`` cannot run. This module
interprets the repository's Dockerfile — the subset it uses: ``ARG``, ``FROM``, ``ENV``, ``WORKDIR``,
``COPY`` (from the context and ``--from=build``), ``RUN``, ``USER``, ``ENTRYPOINT`` (``LABEL`` and
``EXPOSE`` carry no filesystem effect) — on the host:

* every ``RUN`` line executes verbatim with ``sh -c``, in a private mount namespace (``unshare``,
  root only) where ``/opt`` is an empty tmpfs and each ``/opt/<dir>`` the Dockerfile uses is a
  bind mount of a directory of ``root``: the virtualenvs end up at exactly the paths of the image
  (``/opt/aimctl``), shebangs included;
* ``python`` is the host's base interpreter (same minor version as the image: the test of the
  Dockerfile checks that the lock files were compiled for the image's Python);
* the environment is empty except ``PATH``, ``HOME``, proxy settings and the Dockerfile's ``ENV``;
* other absolute paths (``/src``, ``/wheels``) are mapped under ``root`` by textual substitution.

:func:`run_in_image` then runs a command the way the Deployment runs the container: in a mount
namespace with ``/opt/<dir>`` bound read-only, a fresh tmpfs on ``/tmp`` (the emptyDir), the root
filesystem remounted read-only, optional service-account files at
``/var/run/secrets/kubernetes.io/serviceaccount``, as the Dockerfile's ``USER`` with no capabilities
and ``no_new_privs``.

What this does not check: the base image's own contents (its Python build, its OS packages) and
layer caching — the parts only ``docker build`` can.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
#: The PATH of the python base images.
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Stage:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = "0:0"
    entrypoint: list[str] = field(default_factory=list)


@dataclass
class ImageLayout:
    root: Path
    opt_dirs: list[str]
    """Names under /opt that the image has (bound from ``root/opt/<name>``)."""
    runtime: Stage

    def host_path(self, image_path: str) -> Path:
        return self.root / image_path.lstrip("/")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _expand(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _parse_env(args: str, env: dict[str, str]) -> dict[str, str]:
    out = {}
    for item in shlex.split(args):
        key, _, value = item.partition("=")
        out[key] = _expand(value, {**env, **out})
    return out


def _base_env() -> dict[str, str]:
    env = {"PATH": IMAGE_PATH, "HOME": "/root"}
    env.update({k: v for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")})
    env.update({k: v for k, v in os.environ.items() if k in ("PIP_CERT", "SSL_CERT_FILE", "PIP_INDEX_URL")})
    return env


def base_python_dir() -> Path:
    """The directory of the host's base interpreter (``python`` there plays the image's python)."""
    directory = Path(sys.base_prefix) / "bin"
    if not (directory / "python").exists():
        raise RuntimeError(f"{directory} has no 'python': cannot stand in for the image's interpreter")
    return directory


def _ns_script(binds: dict[str, Path], body: str, *, expose_python: bool = False) -> str:
    """A shell script for ``unshare --mount``: private mounts, /opt as tmpfs with the binds, then body.

    ``expose_python``: when the host interpreter lives below a directory other users cannot enter
    (pyenv in ``/root``), that directory is replaced by a world-readable tmpfs holding only the
    interpreter at its own path — like the image, whose Python in ``/usr/local`` anyone can run.
    """
    lines = ["set -e", "mount --make-rprivate /", "mount -t tmpfs -o mode=755 tmpfs /opt"]
    for target, source in binds.items():
        lines += [f"mkdir -p {shlex.quote(target)}", f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}"]
    prefix = Path(sys.base_prefix)
    top = Path("/", *prefix.parts[1:2])
    if expose_python and not os.stat(top).st_mode & 0o001:
        q = shlex.quote(str(prefix))
        lines += [
            "mkdir -p /opt/.python",
            f"mount --bind {q} /opt/.python",
            f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(top))}",
            f"mkdir -p {q}",
            f"mount --bind /opt/.python {q}",
            f"mount -o remount,bind,ro {q}",
        ]
    lines.append(body)
    return "\n".join(lines)


def build(root: Path, dockerfile: Path = REPO / "Dockerfile", context: Path = REPO) -> ImageLayout:
    """Interpret ``dockerfile`` into ``root``; returns the runtime stage's layout. Needs root."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        raise RuntimeError("building the image layout needs root and unshare (mount namespaces)")
    python_dir = base_python_dir()
    args: dict[str, str] = {}
    stages: list[Stage] = []
    opt_dirs: set[str] = set()

    def host(path: str) -> Path:
        return root / "fs" / path.lstrip("/")

    def mapped(text: str) -> str:
        # /opt/<x> stays (bind-mounted); other absolute directories of the build live under root/fs.
        def sub(m: re.Match[str]) -> str:
            path = m.group(0)
            if path.startswith("/opt/"):
                opt_dirs.add(path.split("/")[2])
                return path
            return str(host(path))

        return re.sub(r"(?<![\w.$])/(?:opt|src|wheels)(?:/[\w.*-]+)*", sub, text)

    for word, rest in instructions(dockerfile):
        if word == "ARG" and not stages:
            key, _, value = rest.partition("=")
            args[key] = value
        elif word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else f"stage{len(stages)}"
            stages.append(Stage(name, env={"PATH": IMAGE_PATH}))
        elif word == "ENV":
            stages[-1].env.update(_parse_env(rest, stages[-1].env))
        elif word == "WORKDIR":
            stages[-1].workdir = rest
            host(rest).mkdir(parents=True, exist_ok=True)
        elif word == "USER":
            stages[-1].user = rest
        elif word == "ENTRYPOINT":
            stages[-1].entrypoint = json.loads(rest)
        elif word == "COPY" and rest.startswith("--from="):
            _, src, dst = rest.split()
            assert src == dst and src.startswith("/opt/"), f"unsupported COPY --from: {rest}"
        elif word == "COPY":
            *sources, dest = rest.split()
            base = host(stages[-1].workdir)
            for s in sources:
                src = context / s
                target = base / dest / src.name if dest.endswith("/") else base / dest
                if src.is_dir():
                    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, target)
        elif word == "RUN":
            command = mapped(rest)
            for d in opt_dirs:
                (root / "opt" / d).mkdir(parents=True, exist_ok=True)
            binds = {f"/opt/{d}": root / "opt" / d for d in sorted(opt_dirs)}
            env = {**_base_env(), **stages[-1].env}
            env["PATH"] = f"{python_dir}:{env['PATH']}"
            proc = subprocess.run(
                [shutil.which("unshare") or "/usr/bin/unshare", "--mount", "sh", "-c", _ns_script(binds, command)],
                cwd=host(stages[-1].workdir),
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"RUN {rest}\nfailed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
                )
        elif word in ("LABEL", "EXPOSE", "ARG"):
            continue
        else:
            raise RuntimeError(f"unsupported Dockerfile instruction {word}")
    runtime = stages[-1]
    copied = [r.split()[1].split("/")[2] for w, r in instructions(dockerfile) if w == "COPY" and r.startswith("--from")]
    return ImageLayout(root=root, opt_dirs=copied, runtime=runtime)


def run_in_image(
    layout: ImageLayout,
    argv: list[str] | None = None,
    *,
    env: dict[str, str] | None = None,
    service_account: dict[str, bytes] | None = None,
    stdout: int | object = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start ``ENTRYPOINT + argv`` as the container would run (see the module docstring)."""
    uid, _, gid = layout.runtime.user.partition(":")
    stage = layout.root / "sa-files"
    lines: list[str] = []
    if service_account:
        stage.mkdir(exist_ok=True)
        for name, content in service_account.items():
            (stage / name).write_bytes(content)
        secrets_mount = "/var/run/secrets" if Path("/var/run/secrets").is_dir() else "/run"
        lines += [
            f"mount -t tmpfs -o mode=755 tmpfs {secrets_mount}",
            f"mkdir -p {SA_DIR}",
            f"cp {shlex.quote(str(stage))}/* {SA_DIR}/",
            f"chmod 644 {SA_DIR}/*",
            f"mount -o remount,ro {secrets_mount}",
        ]
    lines += ["mount -t tmpfs -o mode=1777 tmpfs /tmp", "mount -o remount,bind,ro /"]
    lines += [f"mount -o remount,bind,ro /opt/{d}" for d in layout.opt_dirs]
    cmd = [*layout.runtime.entrypoint, *(argv or [])]
    lines.append(
        f"exec setpriv --reuid={uid} --regid={gid or uid} --clear-groups --no-new-privs --inh-caps=-all "
        + " ".join(shlex.quote(c) for c in cmd)
    )
    binds = {f"/opt/{d}": layout.root / "opt" / d for d in layout.opt_dirs}
    full_env = {"HOME": "/root", **layout.runtime.env, **(env or {})}
    return subprocess.Popen(
        [
            shutil.which("unshare") or "/usr/bin/unshare",
            "--mount",
            "sh",
            "-c",
            _ns_script(binds, "\n".join(lines), expose_python=True),
        ],
        env=full_env,
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.STDOUT,
    )
