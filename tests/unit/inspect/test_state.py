"""How each kind's state is read (no cluster)."""

from __future__ import annotations

from aimctl.inspect.state import state_of
from tests.unit.inspect.fixtures import cond, obj


def test_aim_failure_condition_gives_reason_and_message() -> None:
    o = obj(
        "AIMService",
        "s",
        "ns",
        status={
            "status": "Degraded",
            "conditions": [
                cond("Ready", "False", "X", "ready says"),
                cond("Failure", "True", "RuntimeConfigMissing", "m"),
            ],
        },
    )
    s = state_of("AIMService", o)
    assert (s.state, s.health, s.reason, s.message) == ("Degraded", "failed", "RuntimeConfigMissing", "m")


def test_aim_without_status_waits_for_the_operator() -> None:
    s = state_of("AIMService", obj("AIMService", "s", "ns"))
    assert (s.state, s.health, s.reason) == ("Pending", "waiting", "NoStatus")


def test_jobs_pvcs_pods_routes_gateways() -> None:
    failed = obj("Job", "j", "ns", status={"conditions": [cond("Failed", "True", "BackoffLimitExceeded")]})
    assert (state_of("Job", failed).state, state_of("Job", failed).reason) == ("Failed", "BackoffLimitExceeded")
    assert state_of("Job", obj("Job", "j", "ns", status={"conditions": [cond("Complete", "True")]})).health == "ok"
    assert (
        state_of("PersistentVolumeClaim", obj("PersistentVolumeClaim", "p", "ns", status={"phase": "Pending"})).health
        == "waiting"
    )
    assert (
        state_of("PersistentVolumeClaim", obj("PersistentVolumeClaim", "p", "ns", status={"phase": "Lost"})).health
        == "failed"
    )
    crash = {"phase": "Running", "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    assert state_of("Pod", obj("Pod", "p", "ns", status=crash)).state == "CrashLoopBackOff"
    refused = {"parents": [{"conditions": [cond("Accepted", "False", "NotAllowedByListeners", "no")]}]}
    r = state_of("HTTPRoute", obj("HTTPRoute", "r", "ns", status=refused))
    assert (r.state, r.health, r.reason) == ("NotAccepted", "failed", "NotAllowedByListeners")
    assert state_of("HTTPRoute", obj("HTTPRoute", "r", "ns")).reason == "NoParentStatus"
    assert (
        state_of("Gateway", obj("Gateway", "g", "ns", status={"conditions": [cond("Programmed", "True")]})).health
        == "ok"
    )
    assert state_of("ServingRuntime", obj("ServingRuntime", "s", "ns")).state == "Present"


def test_inference_service_failure_versus_waiting() -> None:
    waiting = obj("InferenceService", "i", "ns", status={"conditions": [cond("Ready", "False", "PredictorNotReady")]})
    assert state_of("InferenceService", waiting).health == "waiting"
    failed = obj("InferenceService", "i", "ns", status={"conditions": [cond("Ready", "False", "RevisionFailed", "x")]})
    assert state_of("InferenceService", failed).health == "failed"
