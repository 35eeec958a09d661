"""The AIM CRDs of ``deploy/crds`` installed in the session's cluster (fixture ``aim_crds``).

``aim_crds`` applies every generated CRD with server-side apply (the same files a user installs with
``kubectl apply -k deploy/crds``) and waits until each is Established, so a test that depends on it can
create AIM objects immediately. The CRDs are left installed: the cluster belongs to the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client

from tests.support import kube
from tests.support.wait import wait_for

CRD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "crds"
CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
FIELD_MANAGER = "aimctl-tests-crds"


def load_crds() -> list[dict[str, Any]]:
    """The CRD documents of ``deploy/crds`` (every file but the kustomization)."""
    docs = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(CRD_DIR.glob("*.yaml"))]
    return [doc for doc in docs if doc.get("kind") == "CustomResourceDefinition"]


def _established(crd: dict[str, Any]) -> bool:
    conditions = crd.get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


async def install_aim_crds(api: client.ApiClient) -> list[dict[str, Any]]:
    """Install (or update) the AIM CRDs and wait until every one is Established; returns them."""
    crds = load_crds()
    assert len(crds) == 9, f"expected the 9 AIM CRDs in {CRD_DIR}, found {len(crds)}"
    for crd in crds:
        await kube.apply(api, f"{CRD_PATH}/{crd['metadata']['name']}", crd, manager=FIELD_MANAGER)
    for crd in crds:
        name = crd["metadata"]["name"]
        await wait_for(
            lambda name=name: kube.get(api, f"{CRD_PATH}/{name}"),  # type: ignore[misc]
            _established,
            timeout=60,
            what=f"CRD {name} Established",
        )
    return crds


@pytest.fixture(scope="session")
async def aim_crds(api: client.ApiClient) -> list[dict[str, Any]]:
    """The AIM CRDs, installed once per session on the shared test cluster (see :func:`install_aim_crds`)."""
    return await install_aim_crds(api)
