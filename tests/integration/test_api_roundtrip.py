"""Valid objects through the real apiserver: apply -> read -> parse gives the object plus its defaults.

* A property test draws valid manifests of every kind from the models (some optional fields left out),
  applies spec and status with server-side apply, reads the object back and parses it. The parsed
  object must equal the parse of what was sent, and the stored JSON must have exactly the fields the
  model's dump has — so the CRD's defaults and the models' defaults are the same, in both directions.
* Every sample of ``deploy/samples`` applies for real and reads back as it was written.
* The descriptions ``kubectl explain`` shows (the published OpenAPI v3) are the models' docstrings.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes_asyncio import client

from aimctl.api.crdgen import normalise_description
from aimctl.api.kinds import KINDS, KindInfo, by_kind
from aimctl.api.service import AIMServiceSpec
from tests.support import aim, kube
from tests.support.api_strategies import raw_object
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "samples"


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value (list items by index): its shape without the leaf values."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            paths.add(f"{prefix}.{key}")
            paths |= key_paths(item, f"{prefix}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths |= key_paths(item, f"{prefix}[{index}]")
    return paths


def assert_round_trip(info: KindInfo, sent: dict[str, Any], stored: dict[str, Any]) -> None:
    expected = info.model.model_validate(sent)
    parsed = info.model.model_validate(stored)
    assert parsed.spec == expected.spec, json.dumps({"sent": sent.get("spec"), "stored": stored.get("spec")})
    assert parsed.status == expected.status, json.dumps({"sent": sent.get("status"), "stored": stored.get("status")})
    assert (parsed.metadata.labels or {}) == (sent["metadata"].get("labels") or {})
    # Same shape: the server added exactly the defaults the model adds (and pruned nothing we sent).
    dumped = expected.to_dict()
    assert key_paths(stored["spec"]) == key_paths(dumped["spec"]), (stored["spec"], dumped["spec"])
    if "status" in sent:
        assert key_paths(stored["status"]) == key_paths(dumped["status"]), (stored["status"], dumped["status"])
    else:
        assert "status" not in stored


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_generated_objects_round_trip_through_the_apiserver(
    api: client.ApiClient, namespace: str, info: KindInfo, data: st.DataObject
) -> None:
    name = f"rt-{uuid.uuid4().hex[:10]}"
    sent = data.draw(raw_object(info, name, namespace if info.namespaced else None), label="manifest")
    spec_only = {key: value for key, value in sent.items() if key != "status"}
    try:
        await aim.apply(api, spec_only)
        if "status" in sent:
            await aim.apply_status(api, sent)
        stored = await aim.get(api, sent)
        assert_round_trip(info, sent, stored)
    finally:
        if not info.namespaced:
            await aim.delete(api, sent)


def _samples() -> dict[str, dict[str, Any]]:
    paths = sorted(p for p in SAMPLES.glob("*.yaml") if p.name != "kustomization.yaml")
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in paths}


@pytest.mark.parametrize("sample", list(_samples().values()), ids=list(_samples()))
async def test_every_sample_applies(api: client.ApiClient, namespace: str, sample: dict[str, Any]) -> None:
    info = by_kind(sample["kind"])
    obj = copy.deepcopy(sample)
    if info.namespaced:
        obj["metadata"]["namespace"] = namespace
    else:
        obj["metadata"]["name"] = f"{sample['metadata']['name']}-{uuid.uuid4().hex[:6]}"
    try:
        await aim.apply(api, obj)
        stored = await aim.get(api, obj)
        assert_round_trip(info, obj, stored)
        # Samples are written in canonical form: what is stored is what the file says, plus defaults.
        assert stored["spec"] == {**stored["spec"], **sample["spec"]}
        listed = await kube.get(api, aim.collection_path(info, namespace))
        assert obj["metadata"]["name"] in [item["metadata"]["name"] for item in listed["items"]]
    finally:
        if not info.namespaced:
            await aim.delete(api, obj)


async def test_kubectl_explain_descriptions_are_the_model_docstrings(api: client.ApiClient) -> None:
    """``kubectl explain aimservice.spec.aimImageName`` reads the published OpenAPI v3 document."""

    def aimservice_schema(doc: dict[str, Any]) -> dict[str, Any]:
        schemas = doc["components"]["schemas"]
        (key,) = [k for k, v in schemas.items() if k.endswith(".AIMService") and "properties" in v]
        found: dict[str, Any] = schemas[key]
        return found

    doc = await wait_for(
        lambda: kube.get(api, "/openapi/v3/apis/aim.silogen.ai/v1alpha1"),
        lambda d: any(k.endswith(".AIMService") for k in d.get("components", {}).get("schemas", {})),
        timeout=60,
        what="the AIM OpenAPI v3 document",
    )
    schema = aimservice_schema(doc)
    spec = schema["properties"]["spec"]
    if "allOf" in spec:  # the published document may wrap a described $ref in allOf
        spec = {**spec, **doc["components"]["schemas"][spec["allOf"][0]["$ref"].split("/")[-1]]}
    described = spec["properties"]["aimImageName"]["description"]
    assert described == normalise_description(AIMServiceSpec.model_fields["aim_image_name"].description)
    assert described.startswith("AIMImageName is the canonical model name")
    assert schema["description"] == (
        "AIMService manages a KServe-based AIM inference service for the selected model and template."
    )
