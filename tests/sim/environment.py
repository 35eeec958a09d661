"""Everything the samples need on the local cluster, in one standalone process (``make dev``).

Installs what deploy/samples reference (see :func:`tests.support.samples.prepare`: the ``rwx-nfs``
StorageClass, the KServe ingress Gateway, Secrets, the runtime ServiceAccount, discovery logs) and then
runs the simulated storage provisioner and Gateway API controller until stopped (KServe itself runs in
the local cluster)::

    python -m tests.sim.environment --kubeconfig $(aimctl dev cluster kubeconfig) --namespace aim-demo

With ``--registry-port`` it also runs a local OCI registry (Debian's ``docker-registry``) holding the
samples' images with their AIM labels, to be used as the operator's Docker Hub mirror
(``AIMCTL_REGISTRY_MIRRORS=docker.io=127.0.0.1:<port>``): the samples name images on Docker Hub, which
this machine cannot reach, and image discovery reads their labels from a registry.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path

import anyio
from kubernetes_asyncio import client, config

from tests.sim.gateway_controller import GatewaySimulator
from tests.sim.oci_registry import push_image, start_registry
from tests.sim.storage_provisioner import install_storage_classes, run_storage_provisioner
from tests.support.samples import prepare, sample_image_labels


async def _main(kubeconfig: str | None, namespace: str, log_dir: Path) -> None:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        await install_storage_classes(api)
        await prepare(api, namespace, log_dir)
        print(f"environment ready for namespace {namespace}; running the simulators", flush=True)
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_storage_provisioner, api)
            tg.start_soon(GatewaySimulator(api).run)


def _push_sample_images(directory: Path, port: int, stack: contextlib.ExitStack) -> None:
    registry = stack.enter_context(start_registry(directory, port=port))
    for image, labels in sample_image_labels().items():
        repository, _, tag = image.rpartition(":")
        push_image(registry, repository, tag, labels)
    print(f"registry mirror with the samples' images on {registry.host}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Prepare the samples' environment and run the simulators.")
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--namespace", default="aim-demo")
    parser.add_argument("--log-dir", type=Path, default=None, help="where discovery log files are written")
    parser.add_argument("--registry-port", type=int, default=None, help="serve the samples' images on this port")
    args = parser.parse_args(argv)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="aimctl-demo-logs."))
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt), contextlib.ExitStack() as stack:
        if args.registry_port:
            _push_sample_images(log_dir / "registry", args.registry_port, stack)
        anyio.run(_main, args.kubeconfig, args.namespace, log_dir)


if __name__ == "__main__":
    main()
