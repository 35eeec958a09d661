"""A real OCI registry on loopback for tests: Debian's ``docker-registry`` (distribution v2).

:func:`start_registry` runs ``/usr/bin/docker-registry serve <config>`` on a free 127.0.0.1 port with
its storage in a temporary directory, optionally behind htpasswd Basic auth (the htpasswd file is
written by Debian's ``htpasswd -B`` from apache2-utils). :func:`push_image` uploads an image the way
``docker push`` does — a config blob carrying the labels, one empty layer, a schema-2 manifest (or an
OCI index over it) — through the registry's HTTP API. Both packages are installed by ``make
test-deps``.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BINARY = "/usr/bin/docker-registry"
HTPASSWD_BINARY = "/usr/bin/htpasswd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass
class Registry:
    host: str  # 127.0.0.1:<port>
    username: str | None = None
    password: str | None = None

    def image(self, repository: str, tag: str) -> str:
        return f"{self.host}/{repository}:{tag}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _require(binary: str, package: str) -> None:
    if not Path(binary).exists():
        raise RuntimeError(f"{binary} is missing: run `make test-deps` (Debian package {package})")


@contextlib.contextmanager
def start_registry(
    directory: Path, username: str | None = None, password: str | None = None, port: int | None = None
) -> Iterator[Registry]:
    """Run a registry until the context exits (on ``port``, default a free one); with ``username`` it
    requires Basic auth."""
    _require(REGISTRY_BINARY, "docker-registry")
    directory.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    config = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": hashlib.sha256(str(directory).encode()).hexdigest()},
    }
    if username:
        _require(HTPASSWD_BINARY, "apache2-utils")
        htpasswd = directory / "htpasswd"
        out = subprocess.run(
            [HTPASSWD_BINARY, "-Bbn", username, password or ""], check=True, capture_output=True, text=True
        ).stdout
        htpasswd.write_text(out)
        config["auth"] = {"htpasswd": {"realm": "aimctl-test", "path": str(htpasswd)}}
    config_path = directory / "config.yml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    log = (directory / "registry.log").open("wb")
    proc = subprocess.Popen([REGISTRY_BINARY, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT)
    registry = Registry(f"127.0.0.1:{port}", username, password)
    try:
        _wait_up(registry, proc, directory)
        yield registry
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(directory / "data", ignore_errors=True)


def _wait_up(registry: Registry, proc: subprocess.Popen[bytes], directory: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {(directory / 'registry.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://{registry.host}/v2/", timeout=1):
                return
        except urllib.error.HTTPError as err:
            if err.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("docker-registry did not start within 20 s")


def _request(
    registry: Registry, method: str, url: str, body: bytes | None = None, content_type: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if registry.username:
        token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _upload_blob(registry: Registry, repository: str, data: bytes) -> str:
    digest = _digest(data)
    base = f"http://{registry.host}"
    _, headers, _ = _request(registry, "POST", f"{base}/v2/{repository}/blobs/uploads/")
    location = headers["Location"]
    url = location if location.startswith("http") else base + location
    sep = "&" if "?" in url else "?"
    _request(registry, "PUT", f"{url}{sep}digest={digest}", data, "application/octet-stream")
    return digest


def _empty_layer() -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w"):
        pass
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), _digest(tar)


def push_image(registry: Registry, repository: str, tag: str, labels: dict[str, str], index: bool = False) -> str:
    """Push an image whose config carries ``labels``; with ``index`` the tag names an OCI index over
    a linux/arm64 placeholder and the linux/amd64 image. Returns the image reference."""
    layer, diff_id = _empty_layer()
    layer_digest = _upload_blob(registry, repository, layer)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": labels},
         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
    ).encode()  # fmt: skip
    config_digest = _upload_blob(registry, repository, config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config),
                       "digest": config_digest},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": len(layer),
                        "digest": layer_digest}],
        }
    ).encode()  # fmt: skip
    base = f"http://{registry.host}/v2/{repository}/manifests"
    if not index:
        _request(registry, "PUT", f"{base}/{tag}", manifest, DOCKER_MANIFEST)
        return registry.image(repository, tag)
    digest = _digest(manifest)
    _request(registry, "PUT", f"{base}/{digest}", manifest, DOCKER_MANIFEST)
    entries = [
        {"mediaType": DOCKER_MANIFEST, "size": len(manifest), "digest": digest,
         "platform": {"architecture": arch, "os": "linux"}}
        for arch in ("arm64", "amd64")
    ]  # fmt: skip
    entries[0]["digest"] = digest  # the placeholder reuses the blob; only the amd64 entry is read
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    _request(registry, "PUT", f"{base}/{tag}", body, OCI_INDEX)
    return registry.image(repository, tag)
