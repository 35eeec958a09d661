"""Simulated KServe controller: writes InferenceService status as KServe v0.16 does (no pods, no Knative).

There is no KServe controller in the local cluster, so this simulator plays its part through the real
API: it list-watches InferenceServices, ServingRuntimes and ClusterServingRuntimes and applies each
InferenceService's ``status`` through the status subresource (field manager ``sim-kserve-controller``):

* the predictor's runtime (``spec.predictor.model.runtime``) must exist as a ServingRuntime in the
  InferenceService's namespace or as a ClusterServingRuntime, as KServe requires; otherwise the status
  says what KServe says (``modelStatus.transitionStatus: InvalidSpec``, ``lastFailureInfo.reason:
  RuntimeNotRecognized``, "Waiting for runtime to become available");
* a name KServe cannot serve in RawDeployment mode — ``<name>-predictor-<namespace>`` (the predictor's
  host label under the default domain template) or ``<name>-predictor`` over 63 characters — never
  becomes Ready (``Ready`` False, "failed creating host name");
* otherwise the **outcome** decides, chosen by the test:

  =============== ===========================================================================
  ``ready``        (default) ``PredictorReady``, ``IngressReady`` and ``Ready`` True, ``url``,
                   ``address``, ``modelStatus`` UpToDate/Loaded
  ``progressing``  ``PredictorReady`` and ``Ready`` False (``MinimumReplicasUnavailable``),
                   ``modelStatus`` InProgress/Loading
  ``failed``       ``Ready`` False and ``modelStatus.lastFailureInfo`` (``ModelLoadFailed``) with
                   the chosen message, ``transitionStatus: BlockedByFailedLoad``
  =============== ===========================================================================

  The outcome comes from :meth:`KServeSimulator.set_outcome` (a per-test registry keyed by
  ``namespace/name``), else from the InferenceService's annotation :data:`OUTCOME_ANNOTATION` (the
  AIM operator copies an AIMService's annotations onto its InferenceService, so a test — or the demo
  — can steer a service with ``kubectl annotate aimservice ...``), else ``ready``. The failure
  message comes from :data:`MESSAGE_ANNOTATION` or the registry.

The simulator writes nothing for ServingRuntimes (KServe does not either) and writes a status only when
it differs from the current one (``lastTransitionTime`` is kept while a condition does not flip).

Run it in a test session with :func:`run_kserve_simulator` (a background task), or standalone::

    python -m tests.sim.kserve_controller --kubeconfig $(aimctl dev cluster kubeconfig)
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

import anyio
from kubernetes_asyncio import client

from tests.sim.standalone import run_standalone
from tests.sim.watch import Obj, Watcher, key_of
from tests.support import kube

FIELD_MANAGER = "sim-kserve-controller"
OUTCOME_ANNOTATION = "sim.aimctl.dev/kserve-outcome"
MESSAGE_ANNOTATION = "sim.aimctl.dev/kserve-failure-message"
READY, PROGRESSING, FAILED = "ready", "progressing", "failed"
OUTCOMES = (READY, PROGRESSING, FAILED)
DEFAULT_FAILURE = "Model failed to load: container exited with code 1"
ISVC_PATH = "/apis/serving.kserve.io/v1beta1/inferenceservices"
SR_PATH = "/apis/serving.kserve.io/v1alpha1/servingruntimes"
CSR_PATH = "/apis/serving.kserve.io/v1alpha1/clusterservingruntimes"


@dataclass(frozen=True)
class Outcome:
    kind: str = READY
    message: str = ""


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def outcome_of(isvc: Obj, registry: dict[str, Outcome]) -> Outcome:
    """The registry entry, else the annotations, else ``ready``."""
    if key_of(isvc) in registry:
        return registry[key_of(isvc)]
    ann = (isvc.get("metadata") or {}).get("annotations") or {}
    kind = ann.get(OUTCOME_ANNOTATION, READY)
    return Outcome(kind if kind in OUTCOMES else READY, ann.get(MESSAGE_ANNOTATION, ""))


def _cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    c = {"type": type_, "status": status}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def simulated_status(isvc: Obj, outcome: Outcome, runtime_kind: str | None, timestamp: str) -> dict[str, Any]:
    """The status KServe would write (pure except for ``timestamp``, used for new transitions and
    failure times; see :func:`carry_times`)."""
    meta = isvc["metadata"]
    name, ns = meta["name"], meta["namespace"]
    runtime = str((((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}).get("runtime") or "")
    replicas = int(((isvc.get("spec") or {}).get("predictor") or {}).get("minReplicas") or 1)
    status: dict[str, Any] = {"observedGeneration": meta.get("generation", 1), "deploymentMode": "RawDeployment"}
    if runtime_kind is None:
        message = "Waiting for runtime to become available"
        status["conditions"] = [
            _cond("PredictorReady", "False", "RuntimeNotRecognized", message),
            _cond("Ready", "False", "RuntimeNotRecognized", message),
        ]
        status["modelStatus"] = {
            "transitionStatus": "InvalidSpec",
            "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": "RuntimeNotRecognized", "message": message, "time": timestamp},
        }
        return status
    status["servingRuntimeName" if runtime_kind == "ServingRuntime" else "clusterServingRuntimeName"] = runtime
    host = f"{name}-predictor-{ns}"
    if len(host) > 63 or len(f"{name}-predictor") > 63:
        # KServe's RawDeployment reconciler renders the predictor host from the default domain template
        # and refuses a label over 63 characters (kserve/kserve#4807): the predictor is never created.
        message = f'failed creating host name: invalid domain name "{host}.example.com": label too long'
        status["conditions"] = [
            _cond("PredictorReady", "False", "ReconcileFailed", message),
            _cond("Ready", "False", "ReconcileFailed", message),
        ]
        return status
    if outcome.kind == READY:
        status["url"] = f"http://{name}-{ns}.example.com"
        status["address"] = {"url": f"http://{name}-predictor.{ns}.svc.cluster.local"}
        status["conditions"] = [
            _cond("IngressReady", "True"),
            _cond("PredictorReady", "True"),
            _cond("Ready", "True"),
        ]
        status["modelStatus"] = {
            "transitionStatus": "UpToDate",
            "states": {"activeModelState": "Loaded", "targetModelState": "Loaded"},
            "copies": {"failedCopies": 0, "totalCopies": replicas},
        }
    elif outcome.kind == PROGRESSING:
        message = "Deployment does not have minimum availability."
        status["conditions"] = [
            _cond("PredictorReady", "False", "MinimumReplicasUnavailable", message),
            _cond("Ready", "False", "MinimumReplicasUnavailable", message),
        ]
        status["modelStatus"] = {
            "transitionStatus": "InProgress",
            "states": {"activeModelState": "Pending", "targetModelState": "Loading"},
        }
    else:
        message = outcome.message or DEFAULT_FAILURE
        status["conditions"] = [
            _cond("PredictorReady", "False", "ModelLoadFailed", message),
            _cond("Ready", "False", "ModelLoadFailed", message),
        ]
        status["modelStatus"] = {
            "transitionStatus": "BlockedByFailedLoad",
            "states": {"activeModelState": "", "targetModelState": "FailedToLoad"},
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": message, "time": timestamp},
            "copies": {"failedCopies": replicas, "totalCopies": replicas},
        }
    return status


def carry_times(desired: dict[str, Any], current: dict[str, Any], timestamp: str) -> dict[str, Any]:
    """Keep ``lastTransitionTime`` of unflipped conditions and the failure time of an unchanged
    failure, so an unchanged outcome produces an identical status (and no write)."""
    old = {c.get("type"): c for c in current.get("conditions") or []}
    for c in desired.get("conditions") or []:
        prev = old.get(c["type"])
        flipped = prev is None or prev.get("status") != c["status"]
        c["lastTransitionTime"] = timestamp if flipped else prev.get("lastTransitionTime", timestamp)
    failure = (desired.get("modelStatus") or {}).get("lastFailureInfo")
    old_failure = (current.get("modelStatus") or {}).get("lastFailureInfo") or {}
    if failure and old_failure.get("reason") == failure["reason"] and old_failure.get("message") == failure["message"]:
        failure["time"] = old_failure.get("time", timestamp)
    return desired


class KServeSimulator:
    """See the module docstring."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.registry: dict[str, Outcome] = {}
        self.isvcs = Watcher(api, ISVC_PATH, on_change=lambda o: self._mark(key_of(o)))
        self.runtimes = Watcher(api, SR_PATH, on_change=self._runtime_event, on_delete=self._runtime_gone)
        self.cluster_runtimes = Watcher(api, CSR_PATH, on_change=self._runtime_event, on_delete=self._runtime_gone)
        self._dirty: set[str] = set()
        self._wake = anyio.Event()
        self.writes = 0

    def set_outcome(self, namespace: str, name: str, kind: str = READY, message: str = "") -> None:
        """Choose what the InferenceService ``namespace/name`` does (overrides its annotations)."""
        assert kind in OUTCOMES, kind
        self.registry[f"{namespace}/{name}"] = Outcome(kind, message)
        self._mark(f"{namespace}/{name}")

    def clear_outcome(self, namespace: str, name: str) -> None:
        self.registry.pop(f"{namespace}/{name}", None)
        self._mark(f"{namespace}/{name}")

    def _mark(self, key: str) -> None:
        self._dirty.add(key)
        self._wake.set()

    def _runtime_event(self, obj: Obj) -> None:
        self._runtime_gone(key_of(obj))

    def _runtime_gone(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        for isvc_key, isvc in self.isvcs.items.items():
            if _runtime_of(isvc) == name and (not ns or isvc["metadata"]["namespace"] == ns):
                self._mark(isvc_key)

    def runtime_kind(self, isvc: Obj) -> str | None:
        runtime = _runtime_of(isvc)
        if not runtime:
            return None
        if f"{isvc['metadata']['namespace']}/{runtime}" in self.runtimes.items:
            return "ServingRuntime"
        if runtime in self.cluster_runtimes.items:
            return "ClusterServingRuntime"
        return None

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.runtimes.run)
            tg.start_soon(self.cluster_runtimes.run)
            await self.runtimes.synced.wait()
            await self.cluster_runtimes.synced.wait()
            tg.start_soon(self.isvcs.run)
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                keys, self._dirty = self._dirty, set()
                for key in sorted(keys):
                    with contextlib.suppress(Exception):  # a vanished object or a conflict: next event
                        await self._sync(key)

    async def _sync(self, key: str) -> None:
        isvc = self.isvcs.items.get(key)
        if isvc is None or isvc["metadata"].get("deletionTimestamp"):
            return
        current = isvc.get("status") or {}
        stamp = now()
        desired = carry_times(
            simulated_status(isvc, outcome_of(isvc, self.registry), self.runtime_kind(isvc), stamp), current, stamp
        )
        if all(current.get(k) == v for k, v in desired.items()) and set(current) <= set(desired) | {"components"}:
            return
        meta = isvc["metadata"]
        body = {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "status": desired,
        }
        path = f"/apis/serving.kserve.io/v1beta1/namespaces/{meta['namespace']}/inferenceservices/{meta['name']}/status"
        await kube.apply(self.api, path, body, manager=FIELD_MANAGER)
        self.writes += 1


def _runtime_of(isvc: Obj) -> str:
    return str((((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}).get("runtime") or "")


async def run_kserve_simulator(api: client.ApiClient, simulator: KServeSimulator | None = None) -> None:
    """Run until cancelled (for a background task in a test session)."""
    await (simulator or KServeSimulator(api)).run()


def main(argv: list[str] | None = None) -> None:
    run_standalone("Simulated KServe controller (InferenceService status).", run_kserve_simulator, argv)


if __name__ == "__main__":
    main()
