"""The operator image, built for real from the Dockerfile and run as the Deployment runs it.

``make image``'s own code path (:func:`aimctl.devcluster.image.build`: docker where a Docker engine
answers, else buildah; the pinned base or, where it cannot be pulled, the Debian-archive one) builds the
image. Its root filesystem (``buildah mount``) then runs under :mod:`tests.support.container`: read-only,
as the image's ``USER`` (65532) with no capabilities, ``/tmp`` a tmpfs, the deploy/rbac ServiceAccount's
token, the cluster CA and the namespace file at ``/var/run/secrets/kubernetes.io/serviceaccount``, and
``KUBERNETES_SERVICE_HOST``/``_PORT`` naming the apiserver: the in-cluster configuration, RBAC enforced.

The operator inside must become ready, lead, converge every sample of deploy/samples (unchanged) to
``Ready`` — with the simulated storage provisioner, KServe and Gateway controllers and a local registry
serving the samples' images as the operator's Docker Hub mirror, as ``make dev`` has — and serve
``/metrics``. It runs on a private cluster: the e2e session's operator watches every namespace of the
shared one and would reconcile the samples first. This test is what stands for the kind quick start
(``make image kind-load deploy samples``) where kind cannot run.

Skipped only where no builder can build (neither a Docker engine nor buildah) or where the run lacks
root (mount namespace, chroot). Figures (build time, image size, start time) are printed (``-s``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from aimctl.devcluster.image import Builder, ImageBuildError, build, detect_builder
from tests.sim.gateway_controller import GatewaySimulator
from tests.sim.oci_registry import Registry, push_image, start_registry
from tests.sim.storage_provisioner import install_storage_classes, run_storage_provisioner
from tests.support import aim, kube
from tests.support.aim_crds import install_aim_crds
from tests.support.background import Background
from tests.support.container import ImageRoot, image_root, start
from tests.support.manifests import apply_docs
from tests.support.ports import start_private_cluster
from tests.support.samples import prepare, sample_image_labels, sample_objects
from tests.support.serviceaccount import OPERATOR_NAMESPACE, install_rbac, service_account_token
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/aimctl:test"
PRIVATE_CLUSTER = f"test-image-{os.getpid()}"
SAMPLES_NAMESPACE = "image-samples"
LEASE = "aimctl.aim.silogen.ai"  # the default --leader-election-id


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def builder() -> Builder:
    try:
        found = detect_builder()
    except ImageBuildError as e:
        pytest.skip(f"no image builder: {e}")
    missing = [tool for tool in ("unshare", "setpriv", "chroot") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        pytest.skip(f"running the image's root filesystem needs root and unshare, setpriv, chroot (missing: {missing})")
    return found


@pytest.fixture(scope="module")
def image(builder: Builder) -> Iterator[ImageRoot]:
    began = time.monotonic()
    _, base = build(IMAGE, context=REPO, builder=builder, log=lambda m: print(f"[image] {m}"), quiet=True)
    print(f"[image] {IMAGE} built with {builder.kind} on {base} in {time.monotonic() - began:.1f} s")
    if builder.kind == "buildah":
        print("[image] " + builder.run("images", "--format", "{{.Name}}:{{.Tag}} {{.Size}}", IMAGE).stdout.strip())
    with image_root(builder, IMAGE) as root:
        yield root


def test_image_config_is_what_the_deployment_relies_on(image: ImageRoot) -> None:
    assert image.user == "65532:65532", "numeric non-root USER (runAsNonRoot verifies it)"
    assert image.config["Entrypoint"] == ["/opt/aimctl/bin/aimctl", "run"]
    env = image.env
    assert env["HOME"] == "/tmp" and env["PYTHONDONTWRITEBYTECODE"] == "1", env
    assert env["PATH"].startswith("/opt/aimctl/bin:") and "/usr/bin" in env["PATH"], env["PATH"]
    assert {"8080/tcp", "8081/tcp"} <= set(image.config.get("ExposedPorts") or {})


def test_runtime_venv_holds_exactly_the_locked_dependencies(image: ImageRoot) -> None:
    site = image.site_packages()
    installed = {_normalize(p.name.split("-")[0]) for p in site.glob("*.dist-info")}
    lock = (REPO / "requirements.lock").read_text()
    locked = {_normalize(m) for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, re.MULTILINE)}
    assert installed == locked | {"aimctl"}, (
        f"not in the lock: {sorted(installed - locked - {'aimctl'})}; locked but missing: {sorted(locked - installed)}"
    )
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # (the dev extra names aimctl itself, ``aimctl[devcluster]``: not a dependency of its own)
    dev_only = {_normalize(re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0]) for d in extras["dev"]} - locked - {"aimctl"}
    assert not installed & (dev_only | {"pip", "setuptools", "wheel"}), sorted(installed & dev_only)
    lock_python = re.search(r"autogenerated by pip-compile with Python (\d+\.\d+)", lock)
    assert lock_python and site.parent.name == f"python{lock_python.group(1)}", (site, lock_python)
    print(f"[image] runtime venv: {len(installed)} distributions: {' '.join(sorted(installed))}")


def test_runs_as_its_user_on_a_read_only_root(image: ImageRoot, tmp_path: Path) -> None:
    help_run = start(image, ["--help"], work=tmp_path)
    out, _ = help_run.communicate(timeout=60)
    assert help_run.returncode == 0, out.decode()
    assert b"--leader-elect" in out
    probe = start(
        image,
        entrypoint=["/bin/sh", "-c", "id -u; id -g; id -G; touch /opt/aimctl/x 2>&1; touch /x 2>&1; touch /tmp/x; "
                    "grep ^CapEff /proc/self/status"],
        work=tmp_path,
    )  # fmt: skip
    out, _ = probe.communicate(timeout=30)
    text = out.decode()
    lines = text.splitlines()
    assert lines[:3] == ["65532", "65532", "65532"], text
    assert text.count("Read-only file system") == 2, text
    assert lines[-1].split() == ["CapEff:", "0000000000000000"], text
    assert probe.returncode == 0, text


# ---- in-cluster, on a private cluster -----------------------------------------------------------------


@pytest.fixture(scope="module")
def private_cluster(cluster: Any, image: ImageRoot) -> Iterator[Any]:
    with start_private_cluster(cluster, PRIVATE_CLUSTER) as local:
        yield local


@pytest.fixture
async def private_api(private_cluster: Any) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(private_cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        await install_aim_crds(api)
        await install_storage_classes(api)
        provisioner = Background(run_storage_provisioner(api), "storage provisioner")
        try:
            yield api
        finally:
            await provisioner.stop()


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Registry]:
    """The samples' images with their labels, served as the operator's Docker Hub mirror."""
    with start_registry(tmp_path / "registry") as registry:
        for ref, labels in sample_image_labels().items():
            repository, _, tag = ref.rpartition(":")
            push_image(registry, repository, tag, labels)
        yield registry


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


def _ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def test_in_cluster_operator_converges_the_samples(
    image: ImageRoot, private_cluster: Any, private_api: client.ApiClient, mirror: Registry, tmp_path: Path
) -> None:
    api = private_api
    await install_rbac(api)
    token = await service_account_token(api)
    sa_files = {"token": token.encode(), "ca.crt": (private_cluster.layout.pki / "ca.crt").read_bytes(),
                "namespace": OPERATOR_NAMESPACE.encode()}  # fmt: skip
    await prepare(api, SAMPLES_NAMESPACE, tmp_path)
    sims = [Background(GatewaySimulator(api).run(), "gateway simulator")]  # KServe runs in the cluster
    metrics, probe = free_port(), free_port()
    log = tmp_path / "operator.log"
    pod = "aimctl-manager-image-test"
    env = {
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(private_cluster.layout.ports.apiserver),
        # What deploy/manager sets (the downward API) and the mirror, as `make dev` gives it.
        "POD_NAME": pod,
        "POD_NAMESPACE": OPERATOR_NAMESPACE,
        "AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE,
        "AIMCTL_LOG_LEVEL": "info",
        "AIMCTL_REGISTRY_MIRRORS": f"docker.io={mirror.host}",
    }
    args = ["--leader-elect", f"--metrics-bind-address=127.0.0.1:{metrics}",
            f"--health-probe-bind-address=127.0.0.1:{probe}"]  # fmt: skip
    with log.open("wb") as out:
        began = time.monotonic()
        proc = start(image, args, env=env, service_account=sa_files, stdout=out, work=tmp_path)

    def operator_log() -> str:
        return log.read_text(errors="replace")[-4000:]

    objs = sample_objects()  # unchanged: this cluster is the test's own
    try:

        def readiness_and_leadership() -> tuple[int, str]:
            assert proc.poll() is None, f"operator exited {proc.returncode}:\n{operator_log()}"
            ready, _ = _get(f"http://127.0.0.1:{probe}/readyz")
            _, text = _get(f"http://127.0.0.1:{metrics}/metrics")
            return ready, next((ln for ln in text.splitlines() if ln.startswith("leader_election_master_status")), "")

        try:
            await wait_for(readiness_and_leadership,
                           lambda seen: seen[0] == 200 and seen[1].endswith(" 1.0"), timeout=90, interval=0.2,
                           what="ready and leading (/readyz status, leader metric)")  # fmt: skip
        except AssertionError as e:
            raise AssertionError(f"{e}\n{operator_log()}") from e
        print(f"[image] operator in the image ready and leading {time.monotonic() - began:.1f} s after start")
        # The lease lives in the namespace read from the mounted namespace file.
        lease = await kube.get(api, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{LEASE}")
        assert lease["spec"]["holderIdentity"], lease["spec"]

        for o in objs:
            if not o["kind"].startswith("AIMCluster"):
                o["metadata"]["namespace"] = SAMPLES_NAMESPACE
        await apply_docs(api, objs)
        applied = time.monotonic()

        async def not_ready() -> list[str]:
            assert proc.poll() is None, f"operator exited {proc.returncode}:\n{operator_log()}"
            return [f"{o['kind']}/{o['metadata']['name']}: {(got.get('status') or {}).get('status')}"
                    for o in objs if not _ready(got := await aim.get(api, o))]  # fmt: skip

        try:
            await wait_for(not_ready, lambda waiting: not waiting, timeout=180, what="every sample Ready (not ready)")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{operator_log()}") from e
        print(f"[image] {len(objs)} samples Ready {time.monotonic() - applied:.1f} s after apply")

        status, text = _get(f"http://127.0.0.1:{metrics}/metrics")
        assert status == 200
        assert re.search(r'^aim_resources\{.*kind="AIMService".*\} [1-9]', text, re.MULTILINE), text[-3000:]
        assert ' code="403"' not in text, [ln for ln in text.splitlines() if 'code="403"' in ln]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        for t in sims:
            await t.stop()
    assert code == 0, operator_log()
