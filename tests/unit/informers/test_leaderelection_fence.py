"""The leader's write fence and its own budget (scripted lease API, injectable clock; no network)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aimctl.manager import Manager, ManagerConfig
from informers.leaderelection import LeaderElectionConfig, LeaderElector
from informers.ratelimit import AsyncTokenBucket
from informers.rest import ApiError, RestClient, WriteFenced
from tests.support.wait import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class LeaseApi:
    """A Lease held in memory, answering the elector's get/create/update (the clock advances by
    ``latency`` per request); an update must carry the Lease's current resourceVersion (else 409)."""

    def __init__(self, clock: Clock, latency: float = 0.0) -> None:
        self.clock = clock
        self.latency = latency
        self.lease: dict[str, Any] | None = None
        self.rv = 0

    def lease_rv(self) -> str | None:
        return None if self.lease is None else self.lease["metadata"]["resourceVersion"]

    def write_by_another_replica(self, holder: str) -> None:
        assert self.lease is not None
        self.rv += 1
        self.lease = {**self.lease, "metadata": {**self.lease["metadata"], "resourceVersion": str(self.rv)},
                      "spec": {**self.lease["spec"], "holderIdentity": holder}}  # fmt: skip

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        self.clock.now += self.latency
        if verb == "get":
            if self.lease is None:
                raise ApiError(404, "NotFound")
            return self.lease
        stale = (kw["body"].get("metadata") or {}).get("resourceVersion") != self.lease_rv()
        if verb == "update" and stale:
            raise ApiError(409, "Conflict")  # optimistic concurrency, as the apiserver
        self.rv += 1
        body = dict(kw["body"])
        body["metadata"] = {**body["metadata"], "resourceVersion": str(self.rv)}
        self.lease = body
        return body


async def test_fence_closes_at_last_renewal_start_plus_renew_deadline() -> None:
    clock = Clock()
    api = LeaseApi(clock, latency=0.5)
    cfg = LeaderElectionConfig(namespace="ns", name="l", identity="me")
    elector = LeaderElector(api, cfg, clock=clock)  # type: ignore[arg-type]
    assert elector.write_time_left() <= 0, "no writes before the lease is held"
    started = clock.now
    assert await elector.try_acquire_or_renew()
    elector._set_leader(True)
    # measured from the *start* of the successful attempt (the GET and the PUT took 1 s)
    assert elector.write_deadline == started + cfg.renew_deadline
    clock.now = started + cfg.renew_deadline - 0.01
    assert elector.write_time_left() > 0
    clock.now = started + cfg.renew_deadline + 0.01
    assert elector.write_time_left() <= 0, "past the fence: writes must stop before the lease can be taken"
    assert cfg.renew_deadline < cfg.lease_duration
    # a renewal moves the fence
    renew_start = clock.now
    assert await elector.try_acquire_or_renew()
    assert elector.write_deadline == renew_start + cfg.renew_deadline


async def test_renew_loop_gives_up_when_the_fence_closes_not_a_deadline_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a pause longer than the fence (SIGSTOP), the renew loop gives up at once."""
    clock = Clock()
    api = LeaseApi(clock)
    cfg = LeaderElectionConfig(namespace="ns", name="l", identity="me")
    elector = LeaderElector(api, cfg, clock=clock)  # type: ignore[arg-type]
    assert await elector.try_acquire_or_renew()
    elector._set_leader(True)
    clock.now += 60  # the process was stopped for a minute; another replica took the lease meanwhile
    api.write_by_another_replica("other")
    # Before: renewals were retried for a whole renew deadline (10 s) after the pause, while the
    # workers went on writing. Now the loop gives up after its first sleep.
    with anyio.fail_after(cfg.retry_period + 3):
        async with anyio.create_task_group() as tg:
            await elector._renew_loop(tg.cancel_scope)
    assert elector._lost
    assert elector.write_time_left() <= 0


class Api:
    async def call_api(self, *a: Any, **kw: Any) -> Any:
        raise AssertionError("no request expected")


async def test_manager_fences_controller_writes_and_gives_the_elector_its_own_budget() -> None:
    raw = RestClient(Api(), limiter=AsyncTokenBucket(200, 400), max_inflight_writes=32)
    manager = Manager(raw, ManagerConfig(leader_election=True, metrics_address=None, probe_address=None))
    with pytest.raises(WriteFenced):  # not leading (yet): the controllers' client sends no write
        await manager.client.request("patch", "/api/v1/namespaces/x/configmaps/y", body={})
    elector = manager._new_elector()
    assert elector.client.api_client is raw.api_client
    assert elector.client.limiter is not raw.limiter, "renewals must not queue behind reconcile requests"
    assert elector.client.write_slots is None, "renewals must not wait for a reconcile write slot"
    assert elector.client.write_fence is None
    assert manager.client.limiter is raw.limiter and manager.client.write_slots is raw.write_slots
    manager.elector = elector
    elector._renewed_at, elector.is_leader = elector.clock(), True
    assert manager.client.write_fence is not None and manager.client.write_fence() > 0


class FlakyLeaseApi(LeaseApi):
    """A LeaseApi whose updates fail (as in an apiserver or etcd outage) while ``down`` is set."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.down = False
        #: Updates refused so far (renewals, and attempts to acquire while following).
        self.refused = 0

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        if self.down and verb == "update":
            self.refused += 1
            raise OSError("connection reset")
        return await super().request(verb, path, **kw)


async def test_a_leader_that_cannot_renew_steps_down_and_campaigns_again() -> None:
    """Before: the renew loop's failure raised LeaderElectionLost and the process exited. Now lead() is
    cancelled and awaited, the fence stays closed, and the elector leads again once it can renew."""
    api = FlakyLeaseApi(Clock())
    cfg = LeaderElectionConfig(namespace="ns", name="l", identity="me", lease_duration=3, renew_deadline=2,
                               retry_period=1)  # fmt: skip
    changes: list[bool] = []
    elector = LeaderElector(api, cfg, on_change=changes.append)  # type: ignore[arg-type]  # real clock
    terms: list[str] = []

    async def lead() -> None:
        terms.append("running")
        try:
            await anyio.sleep_forever()
        finally:
            terms[-1] = "stopped"

    async with anyio.create_task_group() as tg:
        tg.start_soon(elector.run, lead)
        await wait_for(lambda: list(terms), lambda t: t == ["running"], timeout=10, what="the first term")
        assert elector.write_time_left() > 0
        api.down = True
        await wait_for(lambda: elector.is_leader, lambda leading: not leading, timeout=10, what="the step-down")
        assert terms == ["stopped"], "lead() must be cancelled and awaited at the step-down"
        assert elector.write_time_left() <= 0, "the fence stays closed while following"
        # It campaigns while following: one more refused attempt to take the lease, handled (every task
        # is blocked again: the elector waits for its next attempt, or a new term runs), and no term.
        refused = api.refused
        await wait_for(lambda: api.refused, lambda n: n > refused, timeout=10, what="an attempt while following")
        await anyio.wait_all_tasks_blocked()
        assert terms == ["stopped"] and elector.write_time_left() <= 0
        api.down = False
        await wait_for(lambda: list(terms), lambda t: t == ["stopped", "running"], timeout=10, what="the second term")
        assert elector.is_leader and elector.terms == 2 and elector.write_time_left() > 0
        assert changes == [True, False, True]
        tg.cancel_scope.cancel()


async def test_the_elector_renews_over_connections_of_its_own() -> None:
    """Lease renewals must not wait for a connection of the pool the reconcile traffic uses (watches
    and writes at 10 000 services can hold all of it): the elector's client forks the transport."""
    import ssl

    from aimctl.kube.kubeconfig import Configuration
    from aimctl.kube.transport import ApiTransport

    cfg = Configuration(host="https://127.0.0.1:1", ssl_context=ssl.create_default_context())
    unary, watches = ApiTransport(cfg, pool_size=256), ApiTransport(cfg, pool_size=0)
    raw = RestClient(unary, watch_api_client=watches, limiter=AsyncTokenBucket(200, 400), max_inflight_writes=32)
    manager = Manager(raw, ManagerConfig(leader_election=True, metrics_address=None, probe_address=None))
    elector = manager._new_elector()
    try:
        own = elector.client.api_client
        assert isinstance(own, ApiTransport)
        assert own is not unary and own is not watches, "renewals must not share the reconcile pool"
        assert own.session is not unary.session and own.session.connector is not unary.session.connector
        assert elector.client.watch_api_client is own, "the lease watch uses the elector's pool too"
        assert own.configuration is cfg, "same apiserver, same credentials"
        assert manager.client.api_client is unary, "the controllers keep the shared pool"
    finally:
        await elector.client.close()
        await unary.close()
        await watches.close()
    assert own.session.closed, "closing the elector's client closes its own pool"


class RecordingLeaseApi(LeaseApi):
    """LeaseApi that records each request (verb, timeout)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.calls: list[tuple[str, float]] = []

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        self.calls.append((verb, kw["request_timeout"]))
        return await super().request(verb, path, **kw)


async def test_a_leader_renews_with_one_update_given_the_time_left_until_its_fence() -> None:
    """Under load the apiserver answered lease requests in more than 4 s: each renewal (a GET and a
    PUT, 4 s each) was thrown away and retried until the renew deadline passed. Now a leader renews
    with one update of the Lease it last wrote, allowed the time left until its fence closes."""
    clock = Clock()
    api = RecordingLeaseApi(clock)
    cfg = LeaderElectionConfig(namespace="ns", name="l", identity="me")
    elector = LeaderElector(api, cfg, clock=clock)  # type: ignore[arg-type]
    assert await elector.try_acquire_or_renew()  # a follower: get, create, 4 s each
    assert api.calls == [("get", cfg.request_timeout), ("create", cfg.request_timeout)]
    elector._set_leader(True)
    api.calls.clear()
    clock.now += cfg.retry_period
    assert await elector.try_acquire_or_renew()
    assert api.calls == [("update", cfg.renew_deadline - cfg.retry_period)], "one update, the fence's time"
    assert api.lease is not None and api.lease["spec"]["holderIdentity"] == "me"

    # Someone else wrote the Lease meanwhile: the update is refused (409), the elector reads the
    # Lease and, another holder's lease not being expired, does not take it.
    api.write_by_another_replica("other")
    api.calls.clear()
    assert not await elector.try_acquire_or_renew()
    assert [verb for verb, _ in api.calls] == ["update", "get"]
    assert api.lease["spec"]["holderIdentity"] == "other"
