"""The template machine: rules, conditions, effects and the durable discovery record."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from statemachines.effects import ApplyChild, DeleteChild, EmitEvent, RequeueAfter
from statemachines.template import (
    DISCOVERY_JOB,
    MACHINE,
    MEMORY_DISCOVERED,
    SERVING_RUNTIME,
    STALE_DISCOVERY_JOBS,
    TEMPLATE_CACHE,
    DiscoveryRecord,
    JobView,
    TemplateObservation,
    backoff_seconds,
    condition_of,
    discovered_image,
    discovered_inputs,
    profile_id_from_memory,
)

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
URI = "registry.example/aim/llama:1"
PROFILE = {"metadata": {"engine": "vllm", "gpu_count": 1}}
SOURCES = ({"name": "m", "sourceUri": "hf://a/m", "size": "512Mi"},)


def obs(**kw: Any) -> TemplateObservation:
    base: dict[str, Any] = {
        "name": "tpl",
        "generation": 1,
        "now": NOW,
        "image_name": "img",
        "image_uri": URI,
        "job_name": "discover-tpl-12345678",
    }
    base.update(kw)
    return TemplateObservation(**base)


def conds(decision: Any) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in decision.conditions}


def as_status(decision: Any) -> list[dict[str, str]]:
    return [{"type": c.type, "status": c.status, "reason": c.reason, "message": c.message} for c in decision.conditions]


def test_first_reconcile_creates_the_discovery_job() -> None:
    d = MACHINE.decide(obs(), None)
    assert (d.rule, d.state) == ("start_discovery", "Pending")
    assert ApplyChild(DISCOVERY_JOB) in d.effects
    c = conds(d)
    assert c["Progressing"] == ("True", "Reconciling", "Initiating discovery")
    assert c["Ready"] == ("False", "Reconciling", "Template is not ready")


def test_running_job_is_progressing_with_one_started_event() -> None:
    d = MACHINE.decide(obs(job=JobView("discover-tpl-12345678", "running")), "Pending")
    assert (d.rule, d.state, d.transition) == ("job_running", "Progressing", ("Pending", "Progressing"))
    assert conds(d)["Progressing"][:2] == ("True", "DiscoveryRunning")
    assert conds(d)["Discovered"][:2] == ("False", "JobPending")
    assert conds(d)["Ready"][:2] == ("False", "Reconciling")
    assert any(isinstance(e, EmitEvent) and e.reason == "DiscoveryStarted" for e in d.effects)
    again = MACHINE.decide(obs(job=JobView("discover-tpl-12345678", "running")), "Progressing")
    assert again.transition is None


def test_success_stores_results_and_applies_the_runtime() -> None:
    o = obs(job=JobView("j", "succeeded", "2026-01-01T11:59:00Z"), result_profile=PROFILE, result_model_sources=SOURCES)
    d = MACHINE.decide(o, "Progressing")
    assert (d.rule, d.state) == ("discovery_succeeded", "Available")
    assert d.status == {"profile": PROFILE, "modelSources": [dict(SOURCES[0])]}
    assert ApplyChild(SERVING_RUNTIME) in d.effects
    c = conds(d)
    assert c["Discovered"] == ("True", "Discovered", f'Model sources discovered from image "{URI}"')
    assert c["Progressing"] == ("False", "Available", "Discovery complete")
    assert c["Ready"] == ("True", "Available", "Template is ready")
    assert "Failure" not in c
    assert discovered_image(as_status(d)) == URI


def test_the_discovered_profile_id_is_remembered_and_kept() -> None:
    """status.profile has no field for the profile's id: the memory keeps it from success on."""
    o = obs(job=JobView("j", "succeeded", "2026-01-01T11:59:00Z"), result_profile=PROFILE, result_profile_id="p-1")
    d = MACHINE.decide(o, "Progressing")
    assert d.memory[MEMORY_DISCOVERED] == {"image": URI, "profileId": "p-1"}
    assert profile_id_from_memory(d.memory) == "p-1"
    kept = MACHINE.decide(obs(has_results=True, discovered_image=URI, discovered_profile_id="p-1"), "Available")
    assert kept.rule == "still_available" and profile_id_from_memory(kept.memory) == "p-1"
    assert profile_id_from_memory({}) == "" and profile_id_from_memory({MEMORY_DISCOVERED: "x"}) == ""


def test_available_stays_available_and_keeps_the_runtime_without_rediscovery() -> None:
    o = obs(has_results=True, discovered_image=URI)
    d = MACHINE.decide(o, "Available")
    assert (d.rule, d.state, d.transition) == ("still_available", "Available", None)
    assert ApplyChild(SERVING_RUNTIME) in d.effects
    assert ApplyChild(DISCOVERY_JOB) not in d.effects


def test_image_uri_change_rediscovers_and_deletes_stale_jobs() -> None:
    o = obs(has_results=True, discovered_image="old/uri:1", stale_jobs=("discover-tpl-old",))
    d = MACHINE.decide(o, "Available")
    assert (d.rule, d.state) == ("rediscover", "Pending")
    assert ApplyChild(DISCOVERY_JOB) in d.effects
    assert DeleteChild(STALE_DISCOVERY_JOBS) in d.effects
    assert any(isinstance(e, EmitEvent) and e.reason == "ImageChanged" for e in d.effects)


def test_caching_creates_the_template_cache_and_disabling_deletes_it() -> None:
    on = MACHINE.decide(obs(has_results=True, discovered_image=URI, caching_enabled=True), "Available")
    assert ApplyChild(TEMPLATE_CACHE) in on.effects
    off = MACHINE.decide(obs(has_results=True, discovered_image=URI, template_cache_owned=True), "Available")
    assert DeleteChild(TEMPLATE_CACHE) in off.effects


@pytest.mark.parametrize(
    ("kw", "reason", "message"),
    [
        ({"image_uri": None, "image_missing_message": 'No AIMClusterImage found for image name "missing"'},
         "ImageNotFound", 'No AIMClusterImage found for image name "missing"'),
        ({"runtime_config_missing": 'AIMRuntimeConfig "nope" not found in namespace "ns"'},
         "RuntimeConfigMissing", 'AIMRuntimeConfig "nope" not found in namespace "ns"'),
        ({"gpu_available": False, "gpu_model": "MI999X", "gpu_message": "no MI999X"}, "GPUNotAvailable", "no MI999X"),
    ],
)  # fmt: skip
def test_blocked_templates_are_degraded_with_a_reason(kw: dict[str, Any], reason: str, message: str) -> None:
    d = MACHINE.decide(obs(**kw), "Pending")
    assert d.state == "Degraded"
    c = conds(d)
    assert c["Failure"] == ("True", reason, message)
    assert c["Ready"][:2] == ("False", reason)
    assert not any(isinstance(e, ApplyChild) for e in d.effects)
    assert EmitEvent("Warning", reason, message) in d.effects


def test_gpu_recovery_returns_to_available_without_rediscovery() -> None:
    degraded = MACHINE.decide(
        obs(gpu_available=False, gpu_model="MI300X", has_results=True, discovered_image=URI), "Available"
    )
    assert degraded.state == "Degraded"
    assert discovered_image(as_status(degraded)) == URI  # the discovery stays recorded
    back = MACHINE.decide(obs(has_results=True, discovered_image=URI), "Degraded")
    assert (back.rule, back.state) == ("still_available", "Available")


def test_only_cordoned_gpu_nodes_keep_a_discovered_template_available_and_say_so() -> None:
    cordoned = {"gpu_available": False, "gpu_cordoned": True, "gpu_model": "MI300X", "gpu_message": "cordoned"}
    kept = MACHINE.decide(obs(**cordoned, has_results=True, discovered_image=URI), "Available")
    assert (kept.rule, kept.state) == ("still_available", "Available")
    assert conds(kept)["GPUCapacity"] == ("False", "NodesCordoned", "cordoned")
    assert conds(kept)["Ready"][0] == "True"
    assert ApplyChild(SERVING_RUNTIME) in kept.effects
    # not discovered yet: no new capacity means no discovery either
    new = MACHINE.decide(obs(**cordoned), "Pending")
    assert (new.rule, new.state) == ("gpu_unavailable", "Degraded")
    # uncordoned: the condition goes away
    back = MACHINE.decide(obs(has_results=True, discovered_image=URI), "Available")
    assert "GPUCapacity" not in conds(back)


def test_stuck_image_pull_is_degraded() -> None:
    o = obs(job=JobView("j", "running"), pull_stuck='Container "discovery" is stuck in ImagePullBackOff: x')
    d = MACHINE.decide(o, "Progressing")
    assert d.state == "Degraded"
    c = conds(d)
    assert c["Failure"][:2] == ("True", "ImagePullBackOff")
    assert c["Failure"][2].startswith("Discovery job pod stuck pulling image: Container")
    assert c["Progressing"][:2] == ("False", "ImagePullBackOff")
    assert any(isinstance(e, EmitEvent) and e.reason == "ImagePullFailed" for e in d.effects)


def _fail(previous: list[dict[str, str]] | None, finished: str, generation: int = 1) -> Any:
    record = DiscoveryRecord.from_conditions(previous, URI, generation)
    job = JobView("j", "failed", finished, "BackoffLimitExceeded")
    return MACHINE.decide(obs(job=job, record=record, generation=generation), "Progressing")


def test_failed_job_records_a_failure_and_backs_off() -> None:
    d = _fail(None, "2026-01-01T11:59:00Z")
    assert (d.rule, d.state) == ("discovery_job_failed", "Failed")
    c = conds(d)
    assert c["Failure"] == ("True", "JobFailed", "Discovery job failed: BackoffLimitExceeded")
    assert c["Discovered"][:2] == ("False", "DiscoveryFailed")
    assert c["Ready"][:2] == ("False", "Failed")
    record = DiscoveryRecord.from_conditions(as_status(d), URI, 1)
    assert record == DiscoveryRecord(1, URI, 1, "2026-01-01T11:59:00Z")
    assert "next attempt after: 2026-01-01T12:00:00Z" in c["Discovered"][2]
    assert RequeueAfter(1.0) in d.effects  # the retry is due at 12:00:00 = now
    assert any(isinstance(e, EmitEvent) and e.reason == "DiscoveryFailed" for e in d.effects)


def test_backoff_doubles_to_one_hour_and_resets_on_spec_or_image_change() -> None:
    assert [backoff_seconds(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    first = as_status(_fail(None, "2026-01-01T11:00:00Z"))
    second = as_status(_fail(first, "2026-01-01T11:30:00Z"))
    record = DiscoveryRecord.from_conditions(second, URI, 1)
    assert record.failures == 2
    assert record.retry_at == dt.datetime(2026, 1, 1, 11, 32, 0, tzinfo=dt.UTC)
    assert DiscoveryRecord.from_conditions(second, URI, 2) == DiscoveryRecord()
    assert DiscoveryRecord.from_conditions(second, "other:uri", 1) == DiscoveryRecord()


def test_a_shorter_backoff_base_for_tests_doubles_the_same_way() -> None:
    assert [backoff_seconds(n, 2.0) for n in range(1, 4)] == [2, 4, 8]
    assert backoff_seconds(40, 2.0) == 3600
    second = as_status(_fail(as_status(_fail(None, "2026-01-01T11:00:00Z")), "2026-01-01T11:30:00Z"))
    record = DiscoveryRecord.from_conditions(second, URI, 1, backoff_base=2.0)
    assert record.retry_at == dt.datetime(2026, 1, 1, 11, 30, 4, tzinfo=dt.UTC)
    assert record.failed_again(URI, 1, "2026-01-01T12:00:00Z").retry_at == dt.datetime(
        2026, 1, 1, 12, 0, 8, tzinfo=dt.UTC
    )
    assert DiscoveryRecord.from_conditions(second, URI, 2, backoff_base=2.0).backoff_base == 2.0


def test_recorded_failure_waits_then_clears_the_job_then_retries() -> None:
    failed = as_status(_fail(None, "2026-01-01T11:59:30Z"))
    record = DiscoveryRecord.from_conditions(failed, URI, 1)
    job = JobView("j", "failed", "2026-01-01T11:59:30Z", "x")
    previous = condition_of(failed, "Failure")
    waiting = MACHINE.decide(obs(job=job, record=record, previous_failure=previous), "Failed")
    assert (waiting.rule, waiting.state, waiting.transition) == ("backing_off", "Failed", None)
    assert conds(waiting)["Failure"] == conds(_fail(None, "2026-01-01T11:59:30Z"))["Failure"]
    assert RequeueAfter(30.0) in waiting.effects
    later = NOW + dt.timedelta(seconds=31)
    clear = MACHINE.decide(obs(job=job, record=record, previous_failure=previous, now=later), "Failed")
    assert (clear.rule, clear.state) == ("clear_finished_job", "Pending")
    assert DeleteChild(DISCOVERY_JOB) in clear.effects
    assert DiscoveryRecord.from_conditions(as_status(clear), URI, 1) == record  # still remembered
    retry = MACHINE.decide(obs(record=record, now=later), "Pending")
    assert (retry.rule, retry.state) == ("start_discovery", "Pending")
    assert DiscoveryRecord.from_conditions(as_status(retry), URI, 1) == record


def test_malformed_output_fails_with_the_excerpt_once() -> None:
    job = JobView("j", "succeeded", "2026-01-01T11:59:50Z")
    err = 'no JSON array of discovery results found in the output; output ends with: "oops"'
    d = MACHINE.decide(obs(job=job, result_error=err), "Progressing")
    assert (d.rule, d.state) == ("discovery_output_invalid", "Failed")
    assert conds(d)["Failure"] == ("True", "DiscoveryParseFailed", f"Discovery output could not be parsed: {err}")
    assert conds(d)["Ready"][:2] == ("False", "DiscoveryParseFailed")
    record = DiscoveryRecord.from_conditions(as_status(d), URI, 1)
    again = MACHINE.decide(
        obs(job=job, record=record, previous_failure=condition_of(as_status(d), "Failure")), "Failed"
    )
    assert again.rule == "backing_off"
    assert conds(again)["Failure"] == conds(d)["Failure"]


def test_no_free_slot_defers_and_requeues() -> None:
    d = MACHINE.decide(obs(slot_free=False), "Pending")
    assert (d.rule, d.state) == ("discovery_deferred", "Pending")
    assert conds(d)["Progressing"][:2] == ("True", "DiscoveryDeferred")
    assert RequeueAfter(5.0) in d.effects
    assert not any(isinstance(e, ApplyChild) for e in d.effects)


def test_every_decision_is_deterministic() -> None:
    o = obs(job=JobView("j", "running"))
    assert MACHINE.decide(o, "Pending") == MACHINE.decide(replace(o), "Pending")


# -- issue 12: discovery deadline, outdated Jobs, a pod not yet Succeeded, rediscovery on env --------

STUCK = 'Container "discovery" is stuck in ImagePullBackOff: pull access denied'


def _stuck(started: str, **kw: Any) -> TemplateObservation:
    job = JobView("j", "running", started_at=started)
    return obs(job=job, pull_stuck=STUCK, pull_deadline_seconds=300.0, **kw)


def test_pull_stuck_before_the_deadline_requeues_at_the_deadline() -> None:
    d = MACHINE.decide(_stuck("2026-01-01T11:58:00Z"), "Progressing")
    assert (d.rule, d.state) == ("pull_stuck", "Degraded")
    assert RequeueAfter(180.0) in d.effects
    assert DeleteChild(DISCOVERY_JOB) not in d.effects


def test_pull_stuck_past_the_deadline_frees_the_slot_keeps_the_error_and_backs_off() -> None:
    d = MACHINE.decide(_stuck("2026-01-01T11:55:00Z", pull_inputs="abcd"), "Degraded")
    assert (d.rule, d.state) == ("pull_given_up", "Degraded")
    assert DeleteChild(DISCOVERY_JOB) in d.effects
    c = conds(d)
    assert c["Failure"] == ("True", "ImagePullBackOff", f"Discovery job pod stuck pulling image: {STUCK}")
    record = DiscoveryRecord.from_conditions(as_status(d), URI, 1, "abcd")
    assert record == DiscoveryRecord(1, URI, 1, "2026-01-01T12:00:00Z", "abcd")
    assert RequeueAfter(60.0) in d.effects
    # The deleted Job still in the cache: no second failure, deleted again.
    previous = condition_of(as_status(d), "Failure")
    again = MACHINE.decide(
        _stuck("2026-01-01T11:55:00Z", record=record, previous_failure=previous, pull_inputs="abcd"), "Degraded"
    )
    assert again.rule == "pull_given_up" and DeleteChild(DISCOVERY_JOB) in again.effects
    assert DiscoveryRecord.from_conditions(as_status(again), URI, 1, "abcd") == record
    # Gone from the cache: Degraded with the pull error until the backoff ends, then a new Job.
    waiting = MACHINE.decide(obs(record=record, previous_failure=previous, pull_inputs="abcd"), "Degraded")
    assert (waiting.rule, waiting.state, waiting.transition) == ("pull_backing_off", "Degraded", None)
    assert conds(waiting)["Failure"] == c["Failure"]
    assert {t: v[:2] for t, v in conds(waiting).items()} == {t: v[:2] for t, v in c.items()}
    later = NOW + dt.timedelta(seconds=61)
    retry = MACHINE.decide(obs(record=record, previous_failure=previous, now=later), "Degraded")
    assert (retry.rule, retry.state) == ("start_discovery", "Pending")


def test_pull_inputs_change_resets_the_backoff() -> None:
    d = MACHINE.decide(_stuck("2026-01-01T11:55:00Z", pull_inputs="abcd"), "Degraded")
    assert DiscoveryRecord.from_conditions(as_status(d), URI, 1, "ef01") == DiscoveryRecord()
    # A record from an older operator (no inputs) still counts.
    old = [
        {
            "type": "Discovered",
            "status": "False",
            "reason": "DiscoveryFailed",
            "message": f'Discovery failed [failures: 2, image: "{URI}", generation: 1, last: 2026-01-01T11:00:00Z]',
        }
    ]
    assert DiscoveryRecord.from_conditions(old, URI, 1, "ef01").failures == 2


@pytest.mark.parametrize("outcome", ["running", "succeeded", "failed"])
def test_an_outdated_job_is_replaced_whatever_its_outcome(outcome: str) -> None:
    job = JobView("j", outcome, "2026-01-01T11:59:00Z" if outcome != "running" else "")  # type: ignore[arg-type]
    d = MACHINE.decide(obs(job=job, job_outdated=True, pull_stuck=STUCK, result_profile=PROFILE), "Degraded")
    assert (d.rule, d.state) == ("replace_outdated_job", "Pending")
    assert DeleteChild(DISCOVERY_JOB) in d.effects
    assert "Failure" not in conds(d)


def test_a_completed_job_whose_pod_is_not_yet_succeeded_waits_without_failing() -> None:
    job = JobView("j", "succeeded", "2026-01-01T11:59:50Z")
    d = MACHINE.decide(obs(job=job, awaiting_pod=True), "Progressing")
    assert (d.rule, d.state) == ("awaiting_discovery_pod", "Progressing")
    assert "Failure" not in conds(d)
    assert DiscoveryRecord.from_conditions(as_status(d), URI, 1) == DiscoveryRecord()
    assert RequeueAfter(1.0) in d.effects


def test_env_change_after_available_rediscovers_and_pull_inputs_do_not() -> None:
    done = MACHINE.decide(
        obs(job=JobView("j", "succeeded", "2026-01-01T11:59:00Z"), result_profile=PROFILE, discovery_inputs="e1"),
        "Progressing",
    )
    status = as_status(done)
    assert conds(done)["Discovered"][2] == f'Model sources discovered from image "{URI}" [inputs: e1]'
    assert discovered_image(status) == URI
    assert discovered_inputs(status) == "e1"
    same = obs(has_results=True, discovered_image=URI, discovered_inputs="e1", discovery_inputs="e1", pull_inputs="p2")
    assert MACHINE.decide(same, "Available").rule == "still_available"
    edited = replace(same, discovery_inputs="e2")
    d = MACHINE.decide(edited, "Available")
    assert (d.rule, d.state) == ("rediscover", "Pending")
    assert ApplyChild(DISCOVERY_JOB) in d.effects
    assert any(isinstance(e, EmitEvent) and e.reason == "DiscoveryInputsChanged" for e in d.effects)
    # A Discovered message from an older operator (no fingerprint) is not a change.
    assert MACHINE.decide(replace(same, discovered_inputs=None), "Available").rule == "still_available"


def test_env_change_with_the_old_job_still_cached_replaces_it_as_an_env_change() -> None:
    old_job = JobView("j", "succeeded", "2026-01-01T11:59:00Z")
    o = obs(has_results=True, discovered_image=URI, discovered_inputs="e1", discovery_inputs="e2", job=old_job,
            job_outdated=True)  # fmt: skip
    d = MACHINE.decide(o, "Available")
    assert (d.rule, d.state) == ("replace_outdated_job", "Pending")
    assert any(isinstance(e, EmitEvent) and e.reason == "DiscoveryInputsChanged" for e in d.effects)
