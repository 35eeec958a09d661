"""Running a simulator as its own process (``python -m tests.sim.<name> --kubeconfig ...``).

The demo (``make dev``) starts the simulators next to the dev cluster; this is the shared command line:
parse ``--kubeconfig``, open an API client, run the simulator until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Awaitable, Callable

import anyio
from kubernetes_asyncio import client, config


async def _with_client(kubeconfig: str | None, run: Callable[[client.ApiClient], Awaitable[None]]) -> None:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        await run(api)


def run_standalone(
    description: str, run: Callable[[client.ApiClient], Awaitable[None]], argv: list[str] | None = None
) -> None:
    """Parse ``--kubeconfig`` from ``argv`` and run ``run(api)`` until interrupted."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_with_client, args.kubeconfig, run)
