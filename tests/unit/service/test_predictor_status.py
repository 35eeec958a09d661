"""What the service reports of a predictor that does not run: KServe's status first, then its pods."""

from __future__ import annotations

from typing import Any

from aimctl.status.predictor import MAX_MESSAGE, pod_problem, predictor_problem


def isvc(ready: str = "False", *, failure: dict[str, Any] | None = None, transition: str = "InProgress",
         predictor: tuple[str, str] = ("MinimumReplicasUnavailable", "Deployment does not have minimum availability."),
         ) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {
        "conditions": [
            {"type": "PredictorReady", "status": ready, "reason": predictor[0], "message": predictor[1]},
            {"type": "Ready", "status": ready},
        ],
        "modelStatus": {"transitionStatus": transition, "states": {"targetModelState": "Pending"}},
    }
    if failure:
        status["modelStatus"]["lastFailureInfo"] = failure
    return {"metadata": {"name": "svc", "namespace": "ns"}, "status": status}


def pod(name: str = "svc-predictor-abc", **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"serving.kserve.io/inferenceservice": "svc"}}, "status": status}


UNSCHEDULABLE = pod(
    phase="Pending",
    conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3 nodes are available: 3 Insufficient amd.com/gpu-x."}],
)  # fmt: skip
PULL = pod(
    phase="Pending",
    containerStatuses=[{"name": "kserve-container", "image": "r/img:1",
                        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}],
)  # fmt: skip
CRASH = pod(
    phase="Running",
    containerStatuses=[{"name": "kserve-container", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                        "lastState": {"terminated": {"exitCode": 1, "message": "CUDA error: out of memory"}}}],
)  # fmt: skip


def test_ready_decides_first() -> None:
    """A past failure is history: KServe never clears lastFailureInfo."""
    old = {"reason": "ModelLoadFailed", "message": "boom"}
    assert predictor_problem(isvc("True", failure=old, transition="UpToDate"), [UNSCHEDULABLE]) is None


def test_starting_is_no_problem() -> None:
    assert predictor_problem(isvc(), [pod(phase="Pending")]) is None
    assert predictor_problem(isvc(), []) is None


def test_unschedulable_names_the_scheduler_reason() -> None:
    p = predictor_problem(isvc(), [UNSCHEDULABLE])
    assert p is not None and p.reason == "PredictorUnschedulable"
    assert p.message == (
        'Predictor pod "svc-predictor-abc" cannot be scheduled: 0/3 nodes are available: 3 Insufficient amd.com/gpu-x.'
    )


def test_image_pull_and_crash_loop() -> None:
    p = predictor_problem(isvc(), [PULL])
    assert p is not None and p.reason == "PredictorImagePullFailed"
    assert p.message == (
        'Predictor pod "svc-predictor-abc" cannot pull image "r/img:1": ImagePullBackOff: Back-off pulling image'
    )
    c = predictor_problem(isvc(), [CRASH])
    assert c is not None and (c.reason, c.message) == ("RuntimeFailed", "CUDA error: out of memory")
    silent = pod(containerStatuses=[{"state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                     "lastState": {"terminated": {"exitCode": 137}}}])  # fmt: skip
    s = pod_problem(silent)
    assert s is not None and s.message == 'Predictor pod "svc-predictor-abc" is crash-looping (exit code 137)'
    waiting = {"reason": "CreateContainerConfigError", "message": 'secret "x" not found'}
    config = pod(containerStatuses=[{"name": "c", "state": {"waiting": waiting}}])
    f = pod_problem(config)
    assert f is not None and f.reason == "PredictorFailed" and 'secret "x" not found' in f.message


def test_kserve_blocked_load_wins_over_pods() -> None:
    blocked = isvc(failure={"reason": "ModelLoadFailed", "message": "bad weights"}, transition="BlockedByFailedLoad")
    p = predictor_problem(blocked, [UNSCHEDULABLE])
    assert p is not None and (p.reason, p.message) == ("RuntimeFailed", "bad weights")


def test_a_stale_failure_gives_way_to_a_current_pod_problem_and_is_the_fallback() -> None:
    stale = isvc(failure={"reason": "ModelLoadFailed", "message": "old crash"}, transition="InProgress")
    p = predictor_problem(stale, [UNSCHEDULABLE])
    assert p is not None and p.reason == "PredictorUnschedulable"
    q = predictor_problem(stale, [pod(phase="Running")])
    assert q is not None and (q.reason, q.message) == ("RuntimeFailed", "old crash")
    reason_only = isvc(failure={"reason": "ModelLoadFailed"}, transition="BlockedByFailedLoad")
    r = predictor_problem(reason_only)
    assert r is not None and r.message == "ModelLoadFailed"


def test_deployment_problems_kserve_reports() -> None:
    late = isvc(predictor=("ProgressDeadlineExceeded", 'ReplicaSet "svc-predictor-1" has timed out progressing.'))
    p = predictor_problem(late)
    assert p is not None and p.reason == "PredictorNotReady"
    assert p.message == (
        'KServe reports the predictor not ready: ReplicaSet "svc-predictor-1" has timed out progressing.'
    )


def test_pods_in_deletion_are_skipped_and_the_first_by_name_is_reported() -> None:
    leaving = pod("a-old", **UNSCHEDULABLE["status"])
    leaving["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    p = predictor_problem(isvc(), [pod("z", **CRASH["status"]), leaving, pod("b", **PULL["status"])])
    assert p is not None and p.reason == "PredictorImagePullFailed" and '"b"' in p.message


def test_messages_are_bounded() -> None:
    huge = isvc(failure={"message": "x" * 10_000}, transition="BlockedByFailedLoad")
    p = predictor_problem(huge)
    assert p is not None and len(p.message) == MAX_MESSAGE
