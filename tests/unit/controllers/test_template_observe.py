"""The template controller's observation and decision over in-memory caches (issue 12): a Job the
cache shows Complete while its pod still shows Running is not a parse failure; a pending Job built
with other pull secrets is replaced; the pull deadline comes from the environment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aimctl.controllers.discovery_slots import DiscoverySlots
from aimctl.controllers.template import (
    BACKOFF_BASE_ENV,
    PULL_DEADLINE_ENV,
    TemplateController,
    backoff_base_from_env,
    pull_deadline_from_env,
)
from aimctl.kube.resources import AIM_IMAGES, AIM_SERVICE_TEMPLATES, JOBS, PODS
from aimctl.manager import Manager, ManagerConfig
from aimctl.naming import discovery_job_name
from informers.store import Obj
from statemachines.template import MACHINE

URI = "registry.example/model:1"
JOB = discovery_job_name("tpl", "img", URI)


class NoServer:
    """Nothing here may reach the API server: the observation reads caches only."""

    async def request(self, verb: str, path: str, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected API call: {verb} {path}")

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the discovery log must not be read before the pod shows Succeeded")


def template(**spec: Any) -> Obj:
    return {
        "apiVersion": AIM_SERVICE_TEMPLATES.api_version,
        "kind": "AIMServiceTemplate",
        "metadata": {"name": "tpl", "namespace": "ns", "uid": "t-1", "generation": 1, "resourceVersion": "5"},
        "spec": {"aimImageName": "img", "metric": "latency", **spec},
        "status": {"status": "Progressing"},
    }


def image() -> Obj:
    return {
        "apiVersion": AIM_IMAGES.api_version,
        "kind": "AIMImage",
        "metadata": {"name": "img", "namespace": "ns", "uid": "i-1", "resourceVersion": "3"},
        "spec": {"image": URI},
    }


def job(controller: TemplateController, tpl: Obj, complete: bool) -> Obj:
    """The Job the controller itself would create for ``tpl``, as the cache shows it."""
    obj = copy.deepcopy(controller._job_manifest(tpl, URI, "ns", None))
    obj["metadata"].update(uid="j-1", resourceVersion="7", creationTimestamp="2026-01-01T11:59:00Z")
    if complete:
        obj["status"] = {
            "succeeded": 1,
            "conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2026-01-01T11:59:30Z"}],
        }
    return obj


def pod(phase: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{JOB}-abcde",
            "namespace": "ns",
            "uid": "p-1",
            "resourceVersion": "8",
            "labels": {"job-name": JOB, "batch.kubernetes.io/job-name": JOB,
                       "app.kubernetes.io/component": "discovery-job"},
        },
        "status": {"phase": phase},
    }  # fmt: skip


def setup(tpl: Obj, *cached: tuple[Any, Obj]) -> TemplateController:
    manager = Manager(NoServer(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    controller = TemplateController(
        manager, cluster_scoped=False, slots=DiscoverySlots(manager.cache.informer(JOBS).store)
    )
    manager.cache.informer(AIM_SERVICE_TEMPLATES).apply("ADDED", tpl)
    manager.cache.informer(AIM_IMAGES).apply("ADDED", image())
    for resource, obj in cached:
        manager.cache.informer(resource).apply("ADDED", obj)
    return controller


async def test_job_complete_while_the_cached_pod_still_runs_waits_for_the_pod() -> None:
    tpl = template()
    probe = setup(tpl)
    controller = setup(tpl, (JOBS, job(probe, tpl, complete=True)), (PODS, pod("Running")))
    obs = await controller.observe(tpl)
    assert obs.job is not None and obs.job.outcome == "succeeded"
    assert obs.result_error is None
    decision = MACHINE.decide(obs, "Progressing")
    assert (decision.rule, decision.state) == ("awaiting_discovery_pod", "Progressing")
    assert not any(c.type == "Failure" and c.status == "True" for c in decision.conditions)


async def test_pending_job_with_other_pull_secrets_is_replaced() -> None:
    tpl = template()
    probe = setup(tpl)
    controller = setup(tpl, (JOBS, job(probe, tpl, complete=False)))
    same = await controller.observe(tpl)
    assert not same.job_outdated
    edited = template(imagePullSecrets=[{"name": "fixed"}])
    edited["metadata"]["generation"] = 2
    obs = await controller.observe(edited)
    assert obs.job_outdated
    assert MACHINE.decide(obs, "Degraded").rule == "replace_outdated_job"


def test_pull_deadline_from_env() -> None:
    assert pull_deadline_from_env({}) == 300.0
    assert pull_deadline_from_env({PULL_DEADLINE_ENV: "5"}) == 5.0
    with pytest.raises(ValueError, match="AIMCTL_DISCOVERY_PULL_DEADLINE='soon': expected a positive number"):
        pull_deadline_from_env({PULL_DEADLINE_ENV: "soon"})


def test_backoff_base_from_env() -> None:
    assert backoff_base_from_env({}) == 60.0
    assert backoff_base_from_env({BACKOFF_BASE_ENV: "2"}) == 2.0
    with pytest.raises(ValueError, match="AIMCTL_DISCOVERY_BACKOFF_BASE='0': expected a positive number"):
        backoff_base_from_env({BACKOFF_BASE_ENV: "0"})


async def test_the_observed_record_backs_off_from_the_operators_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BACKOFF_BASE_ENV, "2")
    obs = await setup(template()).observe(template())
    assert obs.record.backoff_base == 2.0
