"""Why an InferenceService's predictor does not run, in words its service's owner can act on (pure).

What KServe v0.16 (Standard/RawDeployment mode) reports on the InferenceService, read from its source
(``pkg/apis/serving/v1beta1/inference_service_status.go``, ``PropagateRawStatus`` and
``PropagateModelStatus``):

* ``Ready`` / ``PredictorReady``: from the predictor Deployment's conditions. ``Available=False``
  gives reason ``MinimumReplicasUnavailable``, message "Deployment does not have minimum
  availability." — for a predictor that is still starting as much as for one that can never start;
  ``Progressing=False`` with a message (``ProgressDeadlineExceeded``, after the Deployment's
  ``progressDeadlineSeconds``, 600 s by default) and ``ReplicaFailure=True`` (``FailedCreate``: a
  quota, an admission refusal) are real problems.
* ``modelStatus``: ``transitionStatus`` ``BlockedByFailedLoad`` (or ``InvalidSpec``) with
  ``lastFailureInfo`` (reason ``ModelLoadFailed``, the container's termination message and exit code)
  only when the ``kserve-container`` (or storage initializer) **terminated with an error or is in
  CrashLoopBackOff**. ``lastFailureInfo`` is never cleared, also not once the predictor is Ready.
  Image pull errors and unschedulable pods only give ``targetModelState: Pending``
  (``transitionStatus: InProgress``), with no message.
* Events on the InferenceService: ``InternalError``, ``ServerlessModeRejected``, ``UpdateFailed`` and
  ``InferenceServiceNotReady`` (a Ready → not-Ready flip) — none about scheduling or image pulls.

So KServe names a crash, but not a missing GPU or an image that cannot be pulled: for those the
predictor pods' own status is read (``PodScheduled=False``/``Unschedulable`` with the scheduler's
message, a container waiting in ``ErrImagePull``/``ImagePullBackOff``), from the operator's pod cache
(selected by KServe's ``serving.kserve.io/inferenceservice`` label).

Order (the first that applies; ``None`` means "still starting, nothing wrong seen"):

1. a Ready InferenceService has no problem (a past ``lastFailureInfo`` is history);
2. KServe's ``lastFailureInfo`` while ``transitionStatus`` says the load is blocked by it → reason
   ``RuntimeFailed``, KServe's message (or its reason when the message is empty);
3. a predictor pod (first by name) that cannot be scheduled → ``PredictorUnschedulable``; whose
   container cannot pull its image → ``PredictorImagePullFailed``; that crash-loops →
   ``RuntimeFailed`` with the last termination's message (what KServe will put in
   ``lastFailureInfo``); that cannot create its container
   (``CreateContainerConfigError`` and the like) → ``PredictorFailed``;
4. ``lastFailureInfo`` while not Ready (KServe moved on to ``InProgress`` between crashes) →
   ``RuntimeFailed``;
5. ``PredictorReady=False`` for a reason other than still starting (``ProgressDeadlineExceeded``,
   ``FailedCreate``, …) → ``PredictorNotReady`` with KServe's message.

Messages are cut to :data:`MAX_MESSAGE` characters (they come from the tenant's container).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimctl.kube.objects import condition, container_statuses, deleting, dig, dig_map, name_of, status_of

#: KServe's label on predictor pods: the InferenceService's name.
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
MAX_MESSAGE = 600
IMAGE_PULL_REASONS = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"})
CREATE_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError", "RunContainerError"})
#: ``PredictorReady=False`` reasons that only mean "not yet" (the Deployment is rolling out).
STARTING_REASONS = frozenset({"", "MinimumReplicasUnavailable", "ReplicaSetUpdated", "NewReplicaSetCreated",
                              "FoundNewReplicaSet", "PredictorConfigurationReady"})  # fmt: skip
BLOCKED = frozenset({"BlockedByFailedLoad", "InvalidSpec"})


@dataclass(frozen=True)
class PredictorProblem:
    """A reason for the service's conditions and a message naming what is wrong."""

    reason: str
    message: str


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def isvc_ready(isvc: Mapping[str, Any]) -> bool:
    return condition(isvc, "Ready", "True") is not None


def _failure_info(status: Mapping[str, Any]) -> str:
    info = dig_map(status, "modelStatus", "lastFailureInfo")
    return str(info.get("message") or info.get("reason") or "")


def pod_problem(pod: Mapping[str, Any]) -> PredictorProblem | None:
    """What keeps one predictor pod from running (``None`` when nothing is visibly wrong)."""
    name = name_of(pod)
    scheduled = condition(pod, "PodScheduled", "False")
    if scheduled is not None and scheduled.get("reason") == "Unschedulable":
        detail = str(scheduled.get("message") or "no node fits it")
        return PredictorProblem("PredictorUnschedulable", _cut(f'Predictor pod "{name}" cannot be scheduled: {detail}'))
    for cs in container_statuses(pod):
        waiting = dig_map(cs, "state", "waiting")
        reason = str(waiting.get("reason") or "")
        detail = str(waiting.get("message") or "")
        if reason in IMAGE_PULL_REASONS:
            text = f'Predictor pod "{name}" cannot pull image "{cs.get("image") or ""}": {reason}'
            return PredictorProblem("PredictorImagePullFailed", _cut(f"{text}: {detail}" if detail else text))
        if reason == "CrashLoopBackOff":
            # KServe's own words for it (``lastFailureInfo``): the last termination's message.
            last = dig_map(cs, "lastState", "terminated")
            why = str(last.get("message") or "")
            code = last.get("exitCode")
            text = f'Predictor pod "{name}" is crash-looping' + (f" (exit code {code})" if code is not None else "")
            return PredictorProblem("RuntimeFailed", _cut(why or text))
        if reason in CREATE_REASONS:
            text = f'Predictor pod "{name}" cannot start container "{cs.get("name") or ""}": {reason}'
            return PredictorProblem("PredictorFailed", _cut(f"{text}: {detail}" if detail else text))
    return None


def predictor_problem(isvc: Mapping[str, Any], pods: Sequence[Mapping[str, Any]] = ()) -> PredictorProblem | None:
    """The problem to report for ``isvc`` and its predictor ``pods`` (see the module docstring)."""
    if isvc_ready(isvc):
        return None
    status = status_of(isvc)
    failure = _failure_info(status)
    if failure and dig(status, "modelStatus", "transitionStatus") in BLOCKED:
        return PredictorProblem("RuntimeFailed", _cut(failure))
    for pod in sorted(pods, key=name_of):
        if deleting(pod):
            continue
        problem = pod_problem(pod)
        if problem is not None:
            return problem
    if failure:
        return PredictorProblem("RuntimeFailed", _cut(failure))
    predictor = condition(isvc, "PredictorReady", "False")
    if predictor is not None and str(predictor.get("reason") or "") not in STARTING_REASONS:
        detail = str(predictor.get("message") or predictor.get("reason"))
        return PredictorProblem("PredictorNotReady", _cut(f"KServe reports the predictor not ready: {detail}"))
    return None
