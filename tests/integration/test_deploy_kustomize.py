"""Every kustomization of deploy/ applies to a real apiserver with a server-side dry-run (the same
request ``kubectl apply --server-side --dry-run=server -k`` sends): schemas, CRD validation, admission.

ServiceMonitor and PrometheusRule come from the prometheus-operator Go module at the pinned version
(installed here only, not at cluster start).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from aimctl.devcluster.upstream_crds import monitoring_crd_files
from tests.support import kube
from tests.support.manifests import DEPLOY, apply_docs, render

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

KUSTOMIZATIONS = sorted(p.parent.name for p in DEPLOY.glob("*/kustomization.yaml"))


@pytest.fixture(scope="session")
async def monitoring_crds(cluster: Any) -> None:
    local = cluster._local()
    await anyio.to_thread.run_sync(local.install_crds, monitoring_crd_files())


@pytest.fixture
async def aim_system(api: client.ApiClient) -> str:
    """The operator namespace must exist for a dry-run of namespaced objects (the dry-run of its own
    Namespace object creates nothing)."""
    try:
        await kube.create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": "aim-system"}})  # fmt: skip
    except Exception as e:
        if getattr(e, "status", None) != 409:
            raise
    return "aim-system"


@pytest.mark.usefixtures("monitoring_crds", "aim_system")
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
async def test_server_side_dry_run(api: client.ApiClient, namespace: str, name: str) -> None:
    docs = render(name)
    answers = await apply_docs(api, docs, namespace=namespace, dry_run=True)
    assert len(answers) == len(docs)
    for doc, answer in zip(docs, answers, strict=True):
        assert answer["kind"] == doc["kind"] and answer["metadata"]["name"] == doc["metadata"]["name"]


@pytest.mark.usefixtures("monitoring_crds", "aim_system")
async def test_dry_run_really_validates(api: client.ApiClient) -> None:
    """The dry-run rejects what a real apply would (so the test above can fail)."""
    (rule,) = [d for d in render("monitoring") if d["kind"] == "PrometheusRule"]
    broken = {**rule, "spec": {"groups": [{"name": "x", "rules": [{"alert": "A", "expr": 42, "for": "soon"}]}]}}
    with pytest.raises(ApiException) as err:
        await apply_docs(api, [broken], dry_run=True)
    assert err.value.status in (400, 422), err.value
