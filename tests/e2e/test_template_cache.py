"""AIMTemplateCache end to end (docs/original-behaviour.md, fixes 1 and 2).

The templates here are created by the test, and their ``status.modelSources`` are written directly
through the status subresource, as discovery would. They name an AIM image that does not exist, so
the template controller (when it runs in the same operator) starts no discovery and reports the
template as not available — while it carries ``status.modelSources`` over unchanged (and server-side
apply would not let it drop a field it does not own anyway). The template cache depends only on
``modelSources``, never on the template's state, so the test holds whatever the template controller
does.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support import aim, kube
from tests.support.caches import GV, WFFC, apply_runtime_config, pvc_path, template_cache, wait_state
from tests.support.discovery import condition, unique
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "storage")

SOURCES = [
    {"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"},
    {"name": "tiny.draft", "sourceUri": "s3://models/tiny-draft", "size": "0.25Gi"},
]
CACHES = {"tc-smol2-135m": "512Mi", "tc-tiny-draft": "256Mi"}


def template(namespace: str | None, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": GV,
        "kind": "AIMServiceTemplate" if namespace else "AIMClusterServiceTemplate",
        "metadata": meta,
        "spec": {
            "aimImageName": "no-such-image-for-cache-tests",
            "metric": "latency",
            "precision": "fp8",
            "gpuSelector": {"model": "MI300X", "count": 1},
        },
    }


async def publish_model_sources(api: client.ApiClient, tpl: dict[str, Any], sources: list[dict[str, Any]]) -> None:
    """Write ``status.modelSources`` as discovery does (only that field: this manager owns nothing else)."""
    await aim.apply_status(api, {**tpl, "status": {"modelSources": sources}})


async def model_cache_names(api: client.ApiClient, namespace: str) -> dict[str, dict[str, Any]]:
    items = (await kube.get(api, f"/apis/{GV}/namespaces/{namespace}/aimmodelcaches"))["items"]
    return {i["metadata"]["name"]: i for i in items}


@contextlib.asynccontextmanager
async def cluster_template(api: client.ApiClient) -> AsyncIterator[dict[str, Any]]:
    tpl = template(None, unique("cache-tpl"))
    await aim.apply(api, tpl)
    try:
        yield tpl
    finally:
        await aim.delete(api, tpl)


async def test_two_model_sources_make_two_model_caches(api: client.ApiClient, namespace: str) -> None:
    """Waits for the sources, then one owned, labelled model cache per source; Available when both are."""
    tpl = template(namespace, "tpl")
    await aim.apply(api, tpl)
    tc = template_cache(
        namespace,
        "tc",
        "tpl",
        env=[{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
        imagePullSecrets=[{"name": "regcred"}],
    )
    created = await aim.apply(api, tc)
    await wait_state(api, tc, "Pending", Ready=("False", "WaitingForModelSources"))

    await publish_model_sources(api, tpl, SOURCES)
    done = await wait_state(
        api, tc, "Available", within=90, Ready=("True", "Available"), TemplateResolved=("True", "TemplateFound")
    )
    assert done["status"]["resolvedTemplateKind"] == "AIMServiceTemplate"

    caches = await model_cache_names(api, namespace)
    assert set(caches) == set(CACHES)
    for name, size in CACHES.items():
        mc = caches[name]
        assert mc["status"]["status"] == "Available"
        assert mc["spec"]["size"] == size
        assert mc["spec"]["env"] == tc["spec"]["env"]
        assert mc["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
        assert mc["metadata"]["labels"]["aim.silogen.ai/templatecache"] == "tc"
        (owner,) = mc["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "AIMTemplateCache",
            created["metadata"]["uid"],
            True,
        )


async def test_template_cache_naming_a_cluster_template(api: client.ApiClient, namespace: str) -> None:
    async with cluster_template(api) as tpl:
        await publish_model_sources(api, tpl, SOURCES[:1])
        tc = template_cache(namespace, "tc", tpl["metadata"]["name"])
        await aim.apply(api, tc)
        done = await wait_state(api, tc, "Available", within=90)
        assert done["status"]["resolvedTemplateKind"] == "AIMClusterServiceTemplate"
        assert set(await model_cache_names(api, namespace)) == {"tc-smol2-135m"}


async def test_missing_template_fails_then_recovers(api: client.ApiClient, namespace: str) -> None:
    tc = template_cache(namespace, "tc", "later")
    await aim.apply(api, tc)
    await wait_state(
        api, tc, "Failed", Failure=("True", "TemplateNotFound"), TemplateResolved=("False", "TemplateNotFound")
    )
    tpl = template(namespace, "later")
    await aim.apply(api, tpl)
    await publish_model_sources(api, tpl, SOURCES[:1])
    await wait_state(api, tc, "Available", within=90, Failure=("False", "NoFailure"))


async def test_storage_class_from_the_runtime_config(api: client.ApiClient, namespace: str) -> None:
    """``spec.runtimeConfigName`` names the config; its ``defaultStorageClassName`` reaches the PVCs."""
    rc = {
        "apiVersion": GV,
        "kind": "AIMRuntimeConfig",
        "metadata": {"name": "caches", "namespace": namespace},
        "spec": {"defaultStorageClassName": WFFC},
    }
    await apply_runtime_config(api, rc)
    tpl = template(namespace, "tpl")
    await aim.apply(api, tpl)
    await publish_model_sources(api, tpl, SOURCES[:1])
    tc = template_cache(namespace, "tc", "tpl", runtimeConfigName="caches")
    await aim.apply(api, tc)
    done = await wait_state(api, tc, "Available", within=90)
    resolved = done["status"]["resolvedRuntimeConfig"]
    assert (resolved["name"], resolved["kind"], resolved["scope"]) == ("caches", "AIMRuntimeConfig", "Namespace")
    mc = (await model_cache_names(api, namespace))["tc-smol2-135m"]
    assert mc["spec"]["storageClassName"] == WFFC
    pvc = await kube.get(api, pvc_path(namespace, "tc-smol2-135m-cache"))
    assert pvc["spec"]["storageClassName"] == WFFC


async def test_missing_runtime_config_is_reported(api: client.ApiClient, namespace: str) -> None:
    tpl = template(namespace, "tpl")
    await aim.apply(api, tpl)
    tc = template_cache(namespace, "tc", "tpl", runtimeConfigName="nope")
    await aim.apply(api, tc)
    failed = await wait_state(api, tc, "Failed", Failure=("True", "RuntimeConfigMissing"))
    assert condition(failed, "Failure")["message"] == f'AIMRuntimeConfig "nope" not found in namespace "{namespace}"'


async def test_a_failed_model_cache_fails_the_template_cache_until_it_is_deleted(
    api: client.ApiClient, namespace: str
) -> None:
    """A model cache whose volume is deleted is Failed (never silently refilled), which makes its
    template cache Failed, naming it; deleting that model cache is the retry: the template cache
    re-creates it and is Available again."""
    tpl = template(namespace, "tpl")
    await aim.apply(api, tpl)
    await publish_model_sources(api, tpl, SOURCES)
    tc = template_cache(namespace, "tc", "tpl")
    await aim.apply(api, tc)
    await wait_state(api, tc, "Available", within=90)
    await kube.delete(api, pvc_path(namespace, "tc-tiny-draft-cache"))
    failed = await wait_state(api, tc, "Failed", within=60, Failure=("True", "ModelCacheFailed"))
    assert "tc-tiny-draft: PVCLost" in condition(failed, "Failure")["message"]

    first = (await model_cache_names(api, namespace))["tc-tiny-draft"]
    await aim.delete(api, first)
    await wait_state(api, tc, "Available", within=120)
    again = (await model_cache_names(api, namespace))["tc-tiny-draft"]
    assert again["metadata"]["uid"] != first["metadata"]["uid"]


async def test_deleting_the_template_cache_cascades(api: client.ApiClient, namespace: str) -> None:
    tpl = template(namespace, "tpl")
    await aim.apply(api, tpl)
    await publish_model_sources(api, tpl, SOURCES)
    tc = template_cache(namespace, "tc", "tpl")
    await aim.apply(api, tc)
    await wait_state(api, tc, "Available", within=90)
    await aim.delete(api, tc)
    await wait_for(lambda: model_cache_names(api, namespace), lambda m: not m, timeout=60, what="model caches gone")

    async def pvcs_gone() -> bool:
        items = (await kube.get(api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"))["items"]
        return all(i["metadata"].get("deletionTimestamp") for i in items)

    await wait_for(pvcs_gone, bool, timeout=60, what="PVCs deleted")
