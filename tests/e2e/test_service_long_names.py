"""Names that always fit KServe (docs/long-names.md): an AIMService whose name KServe cannot serve gets
a shortened InferenceService name; where no name can fit, the service says why.

KServe (v0.16.0, RawDeployment) renders the predictor's host label ``<isvc>-predictor-<namespace>``
and refuses one over 63 characters; its predictor Service is ``<isvc>-predictor``. The assertions hold
against the real KServe as against the simulator (which refuses the same names): each service must
reach Running, which needs KServe to make its InferenceService Ready.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from aimctl.naming import MAX_NAME
from tests.support import aim, kube
from tests.support.discovery import condition, unique
from tests.support.services import (
    OPERATOR_NAMESPACE,
    absent,
    apply_all,
    cluster_objects,
    discovery_logs,
    image,
    isolate,
    runtime_config,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")

# Test names stay short: the ``namespace`` fixture names the namespace after the test, and the
# namespace's length is part of KServe's limit.

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"


@pytest.fixture
async def served_image(api: client.ApiClient, tmp_path: Path) -> AsyncIterator[str]:
    """A cluster image whose default template is Available; yields the image name."""
    img, tpl = unique("img-long"), unique("tpl-long")
    async with cluster_objects(api) as objs, discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
        objs += [image(img, default=tpl), template(tpl, img)]
        await apply_all(api, *objs)
        await wait_template(api, objs[1], "Available")
        yield img


async def owned_isvc(api: client.ApiClient, namespace: str, svc: dict[str, Any]) -> dict[str, Any]:
    """The InferenceService controlled by ``svc`` (whatever its name)."""
    uid = (await aim.get(api, svc))["metadata"]["uid"]

    async def find() -> list[dict[str, Any]]:
        items = (await kube.get(api, ISVCS.format(ns=namespace)))["items"]
        return [i for i in items if any(o.get("uid") == uid for o in i["metadata"].get("ownerReferences") or [])]

    (isvc,) = await wait_for(find, lambda found: len(found) == 1, timeout=30, what=f"the InferenceService of {uid}")
    return isvc


def assert_fits_kserve(isvc: dict[str, Any], namespace: str) -> None:
    name = isvc["metadata"]["name"]
    assert len(f"{name}-predictor") <= MAX_NAME
    assert len(f"{name}-predictor-{namespace}") <= MAX_NAME, name


async def test_63_chars_run(api: client.ApiClient, namespace: str, served_image: str) -> None:
    await isolate(api, namespace)
    name = ("llama-3-1-70b-instruct-mi300x-throughput-fp8-team-research-" + "abcd")[:MAX_NAME]
    assert len(name) == MAX_NAME and len(f"{name}-predictor-{namespace}") > MAX_NAME
    svc = service(namespace, name, served_image)
    await aim.apply(api, svc)
    running = await wait_service(api, svc, "Running", within=90, Ready=("True", "RuntimeReady"))
    isvc = await owned_isvc(api, namespace, svc)
    assert_fits_kserve(isvc, namespace)
    short = isvc["metadata"]["name"]
    assert short != name and short.startswith(name[: len(short) - 9])
    assert isvc["metadata"]["labels"]["aim.silogen.ai/service"] == name
    assert f'InferenceService "{short}"' in condition(running, "Ready")["message"]


async def test_shared_prefix(api: client.ApiClient, namespace: str, served_image: str) -> None:
    await isolate(api, namespace)
    prefix = "mistral-7b-instruct-v0-3-mi325x-latency-bf16-customer-support"[:60]
    assert len(prefix) == 60
    svcs = [service(namespace, f"{prefix}-{s}", served_image) for s in ("a1", "b2")]
    for svc in svcs:
        await aim.apply(api, svc)
    for svc in svcs:
        await wait_service(api, svc, "Running", within=90, Ready=("True", "RuntimeReady"))
    isvcs = [await owned_isvc(api, namespace, svc) for svc in svcs]
    names = {i["metadata"]["name"] for i in isvcs}
    assert len(names) == 2, names
    for isvc in isvcs:
        assert_fits_kserve(isvc, namespace)


@contextlib.asynccontextmanager
async def long_namespace(api: client.ApiClient) -> AsyncIterator[str]:
    """A namespace of 50 characters: ``<isvc>-predictor-<namespace>`` leaves 2 characters for a name."""
    name = f"t-long-names-{unique('ns')}".ljust(50, "x")
    await kube.create(api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": name, "labels": {"aimctl.dev/test": "true"}}})  # fmt: skip
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            await kube.delete(api, f"/api/v1/namespaces/{name}")


async def test_namespace_too_long(api: client.ApiClient, served_image: str) -> None:
    async with long_namespace(api) as ns:
        await aim.apply(api, runtime_config("default", ns))
        svc = service(ns, "chat-assistant-prod", served_image)
        await aim.apply(api, svc)
        failed = await wait_service(api, svc, "Failed", Ready=("False", "NameTooLong"))
        message = condition(failed, "Ready")["message"]
        assert "<name>-predictor-<namespace>" in message and f"at most {MAX_NAME} characters" in message
        assert "namespace of at most 42 characters" in message and "domainTemplate" in message
        assert condition(failed, "Failure")["reason"] == "NameTooLong"
        assert (await kube.get(api, ISVCS.format(ns=ns)))["items"] == []
        # A name short enough as it is still runs there.
        tiny = service(ns, "a", served_image)
        await aim.apply(api, tiny)
        await wait_service(api, tiny, "Running", within=90, Ready=("True", "RuntimeReady"))
        assert not await absent(api, f"{ISVCS.format(ns=ns)}/a")
