"""Chaos scenario 4 — registry faults (simulated registries of :mod:`tests.sim.registry_faults`).

In one namespace: an image whose ≈40 KiB config blob arrives in 4 KiB chunks; an image on a registry
that never answers; an image whose registry sends a Bearer ``realm`` on another host (the canary) and
one whose config blob redirects there — with a pull secret for the hostile registry configured, so
the operator holds credentials it could leak. In another namespace a fleet of services converges.

Proves: the chunked image is Ready (its config is read to the end); the stalling registry holds
nothing else up (the chunked image and the fleet get there while it stalls); the canary never sees
the registry's credentials (neither the password nor the Basic header), whatever else it is asked.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosCluster, ChaosRuns, Fleet, Phases, figure, operators, size
from tests.e2e.test_images import AIMDUMMY_LABELS, DEPLOYMENTS
from tests.sim.pod_logs import serve_logs
from tests.sim.registry_faults import Canary, ChunkedConfigRegistry, HostileRegistry, StallingRegistry
from tests.support import aim, kube
from tests.support import services as svc
from tests.support.discovery import condition, one_model, state
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

LABELS = dict(AIMDUMMY_LABELS, **{DEPLOYMENTS: "{'gpuModel': 'MI300X', 'gpuCount': 1, 'metric': 'latency'}"})
USER, PASSWORD = "aim", "registry-password-must-not-leak"


def pull_secret(ns: str, host: str) -> dict[str, Any]:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = json.dumps({"auths": {host: {"auth": auth}}}).encode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": ns},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config).decode()}}  # fmt: skip


def discovering(uri: str) -> dict[str, Any]:
    return {"image": uri, "discovery": {"enabled": True}}


EXCLUSIVE = False


async def test_registry_faults(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 400)
    reg_ns = await chaos.namespace("registry")
    fleet_ns = await chaos.namespace("tenant")
    fleet = Fleet(chaos, fleet_ns, count)
    canary = Canary()
    chunked = ChunkedConfigRegistry("aim/chunked", LABELS)
    stalling = StallingRegistry()
    hostile = HostileRegistry(canary, LABELS, USER, PASSWORD)
    phases = Phases("4 registry")
    try:
        async with canary, chunked, stalling, hostile, operators(chaos, chaos_tmp) as start:
            op = await start("registry", ["--no-leader-elect", "--namespaces", f"{reg_ns},{fleet_ns}"])
            await op.wait_ready()
            await serve_logs(chaos.api, reg_ns, one_model(), chaos.tmp)
            await kube.create(chaos.api, f"/api/v1/namespaces/{reg_ns}/secrets", pull_secret(reg_ns, hostile.host))
            await aim.apply(chaos.api, svc.runtime_config("default", reg_ns, imagePullSecrets=[{"name": "regcred"}]))
            images = {
                "stalling": svc.image("stalling", reg_ns, **discovering(stalling.image("aim/stall"))),
                "realm": svc.image("realm", reg_ns, **discovering(hostile.image("realm/model"))),
                "redirect": svc.image("redirect", reg_ns, **discovering(hostile.image("redirect/model"))),
                "chunked": svc.image("chunked", reg_ns, **discovering(chunked.image("aim/chunked"))),
            }
            t0 = time.monotonic()
            for obj in images.values():
                await aim.apply(chaos.api, obj)
            phases.mark("operator ready, images applied")
            await fleet.prepare()
            phases.mark("image and template (discovery)")
            await fleet.create()
            fleet_converge = await fleet.converge(300, "the other tenant's services to converge")
            phases.mark("create and convergence")

            def ready_or_failed(o: dict[str, Any]) -> bool:
                return state(o) in ("Ready", "Failed")

            chunked_obj = await wait_for(
                lambda: aim.get(chaos.api, images["chunked"]),
                ready_or_failed,
                timeout=180,
                what="chunked image settled",
            )
            chunked_s = time.monotonic() - t0
            phases.mark("chunked image settled")
            others = {k: await aim.get(chaos.api, v) for k, v in images.items() if k != "chunked"}
            stall_requests = len(stalling.requests)
            figure(
                "4 registry",
                services=count,
                fleet_converge_s=fleet_converge.figure,
                chunked_image_state=state(chunked_obj),
                chunked_settled_s=chunked_s,
                chunked_metadata=condition(chunked_obj, "MetadataExtracted").get("reason"),
                stalling_requests=stall_requests,
                canary_requests=len(canary.received),
                canary_paths=[r["path"] for r in canary.received][:4],
                canary_saw_credentials=canary.saw(PASSWORD),
                other_states={
                    k: (state(o), condition(o, "MetadataExtracted").get("reason")) for k, o in others.items()
                },
                unexpected_exits=op.unexpected_exits,
            )
            assert not canary.saw(PASSWORD), (
                "the registry's credentials reached the canary host: "
                + json.dumps([{"path": r["path"], "authorization": bool(r["headers"].get("Authorization"))}
                              for r in canary.received])
            )  # fmt: skip
            assert fleet_converge.ok, fleet_converge.message()
            assert state(chunked_obj) == "Ready", (
                f"the chunked image is {state(chunked_obj)}: {condition(chunked_obj, 'MetadataExtracted')}"
            )
            assert state(others["stalling"]) != "Ready", (
                "the stalling registry never answered; its image cannot be Ready"
            )
            assert op.unexpected_exits == 0, f"the operator exited on its own: {op.exit_codes}"
    finally:
        for ns in (reg_ns, fleet_ns):
            await chaos.drop_namespace(ns)
