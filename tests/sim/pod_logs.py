"""Container logs of simulated pods (kwok has no containers, so no real logs).

kwok's kubelet-like server answers ``pods/log`` from a file in the CRI log format that a real kubelet
reads (``<RFC3339Nano time> <stream> F <line>``). :func:`serve_logs` writes the chosen text in that
format and points a ``ClusterLogs`` object at it for every pod of a namespace (optionally only some
pod names); the apiserver then returns exactly that text for ``GET .../pods/<name>/log``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from kubernetes_asyncio import client

from tests.support import kube


def cri_log(text: str, stream: str = "stdout") -> str:
    """``text`` as CRI log lines (one per line of text, all with one timestamp)."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return "".join(f"{now} {stream} F {line}\n" for line in text.splitlines())


async def serve_logs(
    api: client.ApiClient,
    namespace: str,
    text: str,
    directory: Path,
    containers: list[str] | None = None,
    pod_names: list[str] | None = None,
    name: str | None = None,
) -> str:
    """Make pods of ``namespace`` log ``text``; returns the ClusterLogs name (delete it when done)."""
    obj_name = name or namespace
    path = directory / f"{obj_name}.log"
    path.write_text(cri_log(text))
    selector: dict[str, list[str]] = {"matchNamespaces": [namespace]}
    if pod_names:
        selector["matchNames"] = pod_names
    log: dict[str, object] = {"logsFile": str(path)}
    if containers:
        log["containers"] = containers
    await kube.apply(
        api,
        f"/apis/kwok.x-k8s.io/v1alpha1/clusterlogs/{obj_name}",
        {
            "apiVersion": "kwok.x-k8s.io/v1alpha1",
            "kind": "ClusterLogs",
            "metadata": {"name": obj_name},
            "spec": {"selector": selector, "logs": [log]},
        },
    )
    return obj_name
