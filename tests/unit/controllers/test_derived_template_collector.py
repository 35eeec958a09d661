"""The derived-template collector's pure parts: the grace setting and who counts as a consumer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from aimctl.controllers.derived_templates import (
    GRACE_ENV,
    GRACE_SECONDS,
    DerivedTemplateCollector,
    _age,
    consumers,
    grace_seconds,
)
from aimctl.kube.resources import AIM_SERVICES
from aimctl.manager import Manager, ManagerConfig
from aimctl.reconcile import Result
from informers.handlers import InformerEvent


def test_grace_defaults_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(GRACE_ENV, raising=False)
    assert grace_seconds() == GRACE_SECONDS == 60.0
    monkeypatch.setenv(GRACE_ENV, "2.5")
    assert grace_seconds() == 2.5
    monkeypatch.setenv(GRACE_ENV, "soon")
    with pytest.raises(ValueError, match="AIMCTL_DERIVED_TEMPLATE_GRACE='soon' is not a number of seconds"):
        grace_seconds()
    monkeypatch.setenv(GRACE_ENV, "-1")
    with pytest.raises(ValueError, match="must be 0 or more seconds"):
        grace_seconds()


def test_services_being_deleted_do_not_count() -> None:
    alive = {"metadata": {"name": "a"}}
    leaving = {"metadata": {"name": "b", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert consumers([alive, leaving]) == ["a"]
    assert consumers([leaving]) == []


def test_age_of_a_template() -> None:
    assert _age({"metadata": {"creationTimestamp": "2000-01-01T00:00:00Z"}}) > 3600 * 24 * 365
    assert _age({"metadata": {}}) == 0.0
    assert _age({"metadata": {"creationTimestamp": "2999-01-01T00:00:00Z"}}) == 0.0


class FakeClient:
    """Records the collector's requests; nothing else may be used."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, Any]]] = []

    def sibling(self, **_: Any) -> FakeClient:
        return self

    async def request(self, verb: str, path: str, *, resource: str = "", body: Any = None, **_: Any) -> Any:
        self.requests.append((verb, path, body))
        return {}


def derived(name: str, created: str = "2000-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": "7",
                     "creationTimestamp": created, "labels": {"aim.silogen.ai/derived-template": "true"}},
        "spec": {"aimImageName": "img"},
    }  # fmt: skip


def consumer(name: str, template: str, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", **meta},
        "spec": {"aimImageName": "img"},
        "status": {"resolvedTemplate": {"name": template, "scope": "Namespace"}},
    }


async def test_a_derived_template_is_deleted_only_without_consumers_after_the_grace() -> None:
    client = FakeClient()
    manager = Manager(client, ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    collector = DerivedTemplateCollector(manager, grace=0)
    collector.templates.upsert(derived("t-ovr-1"))
    collector.templates.upsert({**derived("plain"), "metadata": {**derived("plain")["metadata"], "labels": {}}})
    collector.services.upsert(consumer("a", "t-ovr-1"))
    assert await collector.reconcile("ns/t-ovr-1") == Result()
    assert await collector.reconcile("ns/plain") == Result()  # not derived: never touched
    assert client.requests == []
    # A service being deleted no longer counts; the last one gone → deleted with preconditions.
    collector.services.upsert(consumer("a", "t-ovr-1", deletionTimestamp="2026-01-01T00:00:00Z"))
    assert await collector.reconcile("ns/t-ovr-1") == Result()
    ((verb, path, body),) = client.requests
    assert (verb, path) == ("delete", "/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimservicetemplates/t-ovr-1")
    assert body["preconditions"] == {"uid": "uid-t-ovr-1", "resourceVersion": "7"}
    # Service events map to the derived templates they point at (before and after the change).
    event = InformerEvent("MODIFIED", AIM_SERVICES, consumer("b", "plain"), old=consumer("b", "t-ovr-1"))
    assert collector._pointed_at(event) == ["ns/t-ovr-1"]


async def test_the_grace_period_waits_for_young_or_freshly_unused_templates() -> None:
    client = FakeClient()
    manager = Manager(client, ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    collector = DerivedTemplateCollector(manager, grace=60)
    collector.templates.upsert(derived("old"))
    first = await collector.reconcile("ns/old")
    assert first.requeue_after is not None and 59 < first.requeue_after <= 60  # unused since now
    young = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    collector.templates.upsert(derived("young", young))
    assert (await collector.reconcile("ns/young")).requeue_after is not None
    assert client.requests == []
