"""Discovery outputs for e2e tests (what an AIM image's ``dry-run --format=json`` prints) and helpers
to read what the operator made of them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from kubernetes_asyncio import client

from tests.support import kube

#: The aimdummy image's result (the acceptance scenarios' fake image, ``docs/original-behaviour.md``).
AIMDUMMY_RESULT: dict[str, Any] = {
    "filename": "aimdummy.yaml",
    "profile": {
        "model": "smol2-135m",
        "quantized_model": "",
        "metadata": {"engine": "vllm", "gpu": "AMD", "precision": "fp8", "gpu_count": 0, "metric": "latency"},
        "engine_args": {"max-model-len": 2048},
        "env_vars": {"VLLM_USE_V1": "1"},
    },
    "models": [{"name": "smol2-135m", "source": "hf://HuggingFaceTB/SmolLM2-135M", "size_gb": 0.5}],
}
SECOND_MODEL = {"name": "smol2-360m", "source": "hf://HuggingFaceTB/SmolLM2-360M", "size_gb": 1}


def one_model() -> str:
    return json.dumps([AIMDUMMY_RESULT])


def two_models() -> str:
    return json.dumps([dict(AIMDUMMY_RESULT, models=[*AIMDUMMY_RESULT["models"], SECOND_MODEL])], indent=2)


def noisy() -> str:
    result = json.dumps([AIMDUMMY_RESULT])
    return f"INFO loading profiles [42 found]\nWARNING cache cold\n{result}\nINFO done [ok]\n"


def malformed() -> str:
    return 'INFO starting\n[{"profile": {"metadata": {"engine": "vllm"}, "models": [ oops\nTraceback: boom\n'


def empty_array() -> str:
    return "INFO nothing matched\n[]\n"


def unique(prefix: str) -> str:
    """A name for a cluster-scoped object no other test (or session) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def events_about(api: client.ApiClient, namespace: str, name: str, instance: str) -> list[dict[str, Any]]:
    """``events.k8s.io/v1`` events regarding the object ``name`` (cluster objects: ``default``) that
    the operator ``instance`` reported (other test sessions' operators may share the cluster), once
    they have settled (:func:`tests.support.kube.settled_events`: the operator posts events off the
    reconcile's critical path, so they may trail the status a test just saw)."""

    async def fetch() -> list[dict[str, Any]]:
        items = (await kube.get(api, f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"))["items"]
        return [
            e
            for e in items
            if (e.get("regarding") or {}).get("name") == name and e.get("reportingInstance") == instance
        ]

    return await kube.settled_events(fetch)


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return {}


def state(obj: dict[str, Any]) -> str | None:
    return (obj.get("status") or {}).get("status")
