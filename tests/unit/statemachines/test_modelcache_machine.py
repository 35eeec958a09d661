"""AIMModelCache rules: the original operator's flow, sticky Available, final Failed, retries on spec edits."""

from __future__ import annotations

from dataclasses import replace

import pytest

from statemachines.effects import ApplyChild, Condition, DeleteChild
from statemachines.engine import Decision
from statemachines.modelcache import JOB, MACHINE, PVC, ModelCacheObservation

BASE = ModelCacheObservation(pvc_name="mc-cache", job_name="mc-cache-download", generation=1, observed_generation=1)
BOUND = replace(BASE, pvc_found=True, pvc_uid="u1", pvc_phase="Bound", storage_class="sim-immediate")
RUNNING = replace(BOUND, job_found=True, job_generation=1, job_pvc_uid="u1", job_active=True)
SUCCEEDED = replace(RUNNING, job_active=False, job_succeeded=True)
FAILED_JOB = replace(
    RUNNING, job_active=False, job_failed=True, job_failed_pods=3, job_failure="BackoffLimitExceeded: limit"
)


def conditions(d: Decision) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in d.conditions}


def condition(d: Decision, type_: str) -> Condition:
    return next(c for c in d.conditions if c.type == type_)


def test_every_decision_writes_the_four_conditions_of_the_reference() -> None:
    cases = [BASE, BOUND, RUNNING, SUCCEEDED, FAILED_JOB, replace(BOUND, pvc_phase="Lost")]
    for obs in cases:
        for state in ("Pending", "Progressing", "Available", "Failed"):
            d = MACHINE.decide(obs, state)
            assert set(conditions(d)) == {"StorageReady", "Ready", "Progressing", "Failure"}, (obs, state)


def test_new_cache_creates_its_pvc_and_waits() -> None:
    d = MACHINE.decide(BASE, None)
    assert (d.rule, d.source, d.state) == ("wait_for_pvc", "Pending", "Progressing")
    assert d.effects == (ApplyChild(PVC),)
    assert conditions(d) == {
        "StorageReady": ("False", "PVCPending"),
        "Ready": ("False", "WaitingForPVC"),
        "Progressing": ("True", "WaitingForPVC"),
        "Failure": ("False", "NoFailure"),
    }
    assert condition(d, "StorageReady").message == "PVC not created yet"


def test_provisioning_pvc_in_an_immediate_class_does_not_get_a_job_yet() -> None:
    d = MACHINE.decide(replace(BASE, pvc_found=True, pvc_phase="Pending"), "Progressing")
    assert d.effects == (ApplyChild(PVC),)
    assert conditions(d)["StorageReady"] == ("False", "PVCProvisioning")


def test_wait_for_first_consumer_pvc_gets_its_job_while_pending() -> None:
    obs = replace(BASE, pvc_found=True, pvc_uid="u1", pvc_phase="Pending", wait_for_first_consumer=True)
    d = MACHINE.decide(obs, "Progressing")
    assert d.rule == "start_download"
    assert ApplyChild(JOB) in d.effects
    assert conditions(d)["Progressing"] == ("True", "Downloading")
    assert conditions(d)["Ready"] == ("False", "Downloading")


def test_bound_pvc_without_job_starts_the_download() -> None:
    d = MACHINE.decide(BOUND, "Progressing")
    assert d.rule == "start_download"
    assert d.effects == (ApplyChild(PVC), ApplyChild(JOB))
    assert conditions(d)["StorageReady"] == ("True", "PVCBound")


def test_missing_storage_class_is_named() -> None:
    obs = replace(BASE, pvc_found=True, pvc_phase="Pending", storage_class="nope", storage_class_missing=True)
    d = MACHINE.decide(obs, "Progressing")
    assert conditions(d)["StorageReady"] == ("False", "StorageClassNotFound")
    assert "'nope' does not exist" in condition(d, "StorageReady").message


def test_running_job_is_downloading_and_retry_backoff_between_pods() -> None:
    d = MACHINE.decide(RUNNING, "Progressing")
    assert (d.rule, d.state) == ("downloading", "Progressing")
    assert JOB not in {getattr(e, "role", None) for e in d.effects}
    assert conditions(d)["Progressing"] == ("True", "Downloading")
    between = replace(RUNNING, job_active=False, job_failed_pods=1)
    assert conditions(MACHINE.decide(between, "Progressing"))["Progressing"] == ("True", "RetryBackoff")


def test_success_makes_the_cache_available_with_the_reference_conditions() -> None:
    d = MACHINE.decide(SUCCEEDED, "Progressing")
    assert (d.rule, d.transition) == ("downloaded", ("Progressing", "Available"))
    assert conditions(d) == {
        "StorageReady": ("True", "PVCBound"),
        "Ready": ("True", "Warm"),
        "Progressing": ("False", "Warm"),
        "Failure": ("False", "NoFailure"),
    }
    assert d.reason == "Warm"


@pytest.mark.parametrize(
    "obs",
    [
        replace(BOUND, job_found=False),  # the TTL deleted the Job
        SUCCEEDED,
        replace(BOUND, job_found=True, job_failed=True, job_generation=7),  # whatever a stray Job says
        replace(BOUND, generation=5, observed_generation=4),  # a spec edit after success
    ],
)
def test_available_is_sticky_and_never_downloads_again(obs: ModelCacheObservation) -> None:
    d = MACHINE.decide(obs, "Available")
    assert d.rule == "stay_available"
    assert d.state == "Available"
    assert d.transition is None
    assert d.effects == ()


def test_available_cache_whose_pvc_was_deleted_is_failed_not_refilled() -> None:
    for obs in (BASE, replace(BOUND, pvc_deleting=True)):
        d = MACHINE.decide(obs, "Available")
        assert (d.rule, d.state) == ("pvc_deleted", "Failed")
        assert d.effects == ()
        assert conditions(d)["StorageReady"] == ("False", "PVCNotFound")
        assert conditions(d)["Failure"] == ("True", "PVCLost")
        assert "not downloaded again automatically" in condition(d, "Failure").message


@pytest.mark.parametrize("state", ["Pending", "Progressing", "Available", "Failed"])
def test_lost_pvc_is_failed_from_any_state(state: str) -> None:
    d = MACHINE.decide(replace(SUCCEEDED, pvc_phase="Lost"), state)
    assert (d.rule, d.state) == ("pvc_lost", "Failed")
    assert d.effects == ()
    assert conditions(d) == {
        "StorageReady": ("False", "PVCLost"),
        "Ready": ("False", "PVCLost"),
        "Progressing": ("False", "PVCLost"),
        "Failure": ("True", "PVCLost"),
    }


def test_failed_job_fails_the_cache_with_download_failed_and_explains_the_retry() -> None:
    d = MACHINE.decide(FAILED_JOB, "Progressing")
    assert (d.rule, d.state) == ("download_failed", "Failed")
    assert d.effects == ()
    assert conditions(d)["Failure"] == ("True", "DownloadFailed")
    msg = condition(d, "Failure").message
    assert "BackoffLimitExceeded" in msg
    assert "edit the AIMModelCache spec" in msg
    assert d.reason == "DownloadFailed"


def test_failed_stays_failed_after_the_ttl_removed_the_job() -> None:
    prev = MACHINE.decide(FAILED_JOB, "Progressing")
    failure = condition(prev, "Failure")
    after_ttl = replace(
        BOUND, previous_failure_reason=failure.reason, previous_failure_message=failure.message
    )  # generation unchanged: no retry
    d = MACHINE.decide(after_ttl, "Failed")
    assert (d.rule, d.state, d.effects) == ("stay_failed", "Failed", ())
    assert condition(d, "Failure") == failure


def test_a_spec_edit_retries_a_failed_cache_once() -> None:
    edited = replace(BOUND, generation=2, observed_generation=1, previous_failure_reason="DownloadFailed")
    d = MACHINE.decide(edited, "Failed")
    assert (d.rule, d.state) == ("retry", "Progressing")
    assert d.effects == (ApplyChild(PVC), ApplyChild(JOB))
    # the next reconcile (status written with the new generation) downloads normally
    running = replace(RUNNING, generation=2, observed_generation=2, job_generation=2)
    assert MACHINE.decide(running, "Progressing").rule == "downloading"


def test_a_spec_edit_while_the_failed_job_still_exists_deletes_it_first() -> None:
    edited = replace(FAILED_JOB, generation=2, observed_generation=1)
    d = MACHINE.decide(edited, "Failed")
    assert d.rule == "retry"
    assert d.effects == (ApplyChild(PVC), DeleteChild(JOB))
    # a stale cache still shows the old failed Job: it is not taken for a new failure
    stale = replace(FAILED_JOB, generation=2, observed_generation=2)
    d2 = MACHINE.decide(stale, "Progressing")
    assert (d2.rule, d2.state) == ("retry_stale", "Progressing")
    assert DeleteChild(JOB) in d2.effects


def test_failed_without_spec_change_never_creates_a_job() -> None:
    for obs in (BOUND, FAILED_JOB, BASE, replace(BOUND, generation=3, observed_generation=3)):
        d = MACHINE.decide(obs, "Failed")
        assert all(not (isinstance(e, ApplyChild) and e.role == JOB) for e in d.effects), obs


def test_lost_pvc_blocks_a_retry_until_it_is_deleted() -> None:
    lost = replace(BOUND, pvc_phase="Lost", generation=2, observed_generation=1)
    assert MACHINE.decide(lost, "Failed").rule == "pvc_lost"
    gone = replace(BASE, generation=2, observed_generation=1)
    d = MACHINE.decide(gone, "Failed")
    assert d.rule == "retry"
    assert d.effects == (ApplyChild(PVC),)


def test_success_into_a_replaced_pvc_does_not_count() -> None:
    replaced = replace(SUCCEEDED, pvc_uid="u2")
    d = MACHINE.decide(replaced, "Progressing")
    assert (d.rule, d.state) == ("volume_replaced", "Progressing")
    assert DeleteChild(JOB) in d.effects


def test_job_being_deleted_is_waited_for() -> None:
    d = MACHINE.decide(replace(BOUND, job_found=True, job_deleting=True), "Progressing")
    assert d.rule == "wait_for_pvc"
    assert ApplyChild(JOB) not in d.effects
    assert "previous Job" in condition(d, "Progressing").message


def test_events_only_on_transitions() -> None:
    assert MACHINE.decide(RUNNING, "Progressing").transition is None
    assert MACHINE.decide(SUCCEEDED, "Available").transition is None
    assert MACHINE.decide(FAILED_JOB, "Progressing").transition == ("Progressing", "Failed")


def test_diagram_lists_every_rule() -> None:
    diagram = MACHINE.mermaid()
    for rule in MACHINE.rules:
        assert rule.name in diagram
