"""Steering the predictors of the real KServe in tests (kwok decides what a predictor pod does).

KServe itself runs in the local cluster (``aimctl dev cluster up`` starts its controller manager and
registers its webhooks); there is no KServe simulator. A test chooses what a predictor *pod* does,
exactly as it would on a real cluster by shipping a good or a bad model server, and KServe reports it
through its own logic (see the stages in ``aimctl/devcluster/kwok-config.yaml``):

* :data:`HOLD` ``=`` :data:`PENDING`, on an AIMService (the operator copies its annotations to the
  InferenceService, and KServe copies those onto the predictor's pod template), holds new predictor
  pods Pending: the InferenceService stays not Ready, as while a model loads;
* :func:`crash` makes the running predictor pods crash-loop with a given termination message (a
  model server dying at run time); KServe turns that into ``PredictorReady=False`` and
  ``modelStatus.lastFailureInfo``; :func:`recover` lets them run again (KServe keeps the old
  ``lastFailureInfo``, as it always does).
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from tests.support import kube
from tests.support.wait import wait_for

HOLD, PENDING = "kwok.aimctl.dev/hold", "pending"
CRASH = "kwok.aimctl.dev/crash"
CRASH_MESSAGE = "kwok.aimctl.dev/crash-message"
ISVC_LABEL = "serving.kserve.io/inferenceservice"


async def predictor_pods(api: client.ApiClient, namespace: str, isvc: str) -> list[dict[str, Any]]:
    """The live predictor pods of InferenceService ``namespace/isvc`` (KServe labels them)."""
    pods = await kube.request(
        api, "GET", f"/api/v1/namespaces/{namespace}/pods", query=[("labelSelector", f"{ISVC_LABEL}={isvc}")]
    )
    return [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _annotate(api: client.ApiClient, pod: dict[str, Any], annotations: dict[str, str | None]) -> None:
    meta = pod["metadata"]
    await kube.request(
        api,
        "PATCH",
        f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
        {"metadata": {"annotations": annotations}},
        content_type="application/merge-patch+json",
    )


async def crash(api: client.ApiClient, namespace: str, isvc: str, message: str) -> list[str]:
    """Make every Ready predictor pod of ``isvc`` crash-loop with ``message``; return their names."""
    pods = await wait_for(
        lambda: predictor_pods(api, namespace, isvc),
        lambda ps: any(_ready(p) for p in ps),
        timeout=60,
        what=f"a Ready predictor pod of {namespace}/{isvc}",
    )
    names = []
    for pod in pods:
        if _ready(pod):
            await _annotate(api, pod, {CRASH: "loop", CRASH_MESSAGE: message})
            names.append(pod["metadata"]["name"])
    return names


async def recover(api: client.ApiClient, namespace: str, isvc: str) -> None:
    """Let every crash-looping predictor pod of ``isvc`` run again."""
    for pod in await predictor_pods(api, namespace, isvc):
        if CRASH in (pod["metadata"].get("annotations") or {}):
            await _annotate(api, pod, {CRASH: None, CRASH_MESSAGE: None})
