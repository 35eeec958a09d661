"""The REST layer's retry on ``Retry-After`` and its write fence (a scripted ``ApiClient``, no network)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest

from informers.rest import ApiError, RestClient, WriteFenced


class Answer:
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.reason = "Reason"
        self.headers = headers or {}
        self._raw = json.dumps(body).encode() if body is not None else b""

    async def read(self) -> bytes:
        return self._raw

    def release(self) -> None:
        pass


class ScriptedApi:
    """Answers requests from a script, recording each request's method, path and timeout."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, float | None]] = []

    async def call_api(self, path: str, method: str, **kw: Any) -> Answer:
        self.calls.append((method, path, kw["_request_timeout"].total))
        return self.answers.pop(0)


def status(code: int, reason: str) -> dict[str, Any]:
    return {"kind": "Status", "code": code, "reason": reason, "message": reason}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(anyio, "sleep", fake_sleep)
    return slept


async def test_429_with_retry_after_is_retried_after_that_long(sleeps: list[float]) -> None:
    api = ScriptedApi(
        Answer(429, status(429, "TooManyRequests"), {"Retry-After": "3"}),
        Answer(429, status(429, "TooManyRequests"), {"Retry-After": "1"}),
        Answer(200, {"ok": True}),
    )
    client = RestClient(api)
    assert await client.request("get", "/api/v1/namespaces/x/configmaps/a") == {"ok": True}
    assert len(api.calls) == 3
    assert sleeps == [3.0, 1.0]


async def test_5xx_with_retry_after_is_retried_and_the_wait_is_bounded(sleeps: list[float]) -> None:
    api = ScriptedApi(
        Answer(503, status(503, "ServiceUnavailable"), {"Retry-After": "3600"}),
        Answer(201, {"created": True}),
    )
    client = RestClient(api, max_retry_after=10.0)
    assert await client.request("create", "/api/v1/namespaces/x/configmaps", body={}) == {"created": True}
    assert sleeps == [10.0]


async def test_no_retry_without_retry_after_or_for_other_codes(sleeps: list[float]) -> None:
    for answer in (
        Answer(500, status(500, "InternalError")),  # 5xx without Retry-After: the request may have run
        Answer(409, status(409, "Conflict"), {"Retry-After": "1"}),
    ):
        api = ScriptedApi(answer)
        with pytest.raises(ApiError):
            await RestClient(api).request("get", "/api/v1/x")
        assert len(api.calls) == 1
    assert sleeps == []


async def test_retries_are_bounded(sleeps: list[float]) -> None:
    api = ScriptedApi(*[Answer(429, status(429, "TooManyRequests"), {"Retry-After": "1"}) for _ in range(10)])
    with pytest.raises(ApiError) as info:
        await RestClient(api, max_retries=3).request("get", "/api/v1/x")
    assert info.value.status == 429
    assert len(api.calls) == 4
    assert sleeps == [1.0, 1.0, 1.0]


async def test_write_fence_refuses_writes_and_bounds_their_timeout() -> None:
    left = [5.0]
    api = ScriptedApi(Answer(200, {}), Answer(200, {}), Answer(200, {}))
    client = RestClient(api, write_fence=lambda: left[0], default_timeout=30.0)
    await client.request("patch", "/api/v1/x", body={})
    assert api.calls[-1][2] == 5.0, "a write must not be given more time than the fence has left"
    left[0] = 0.0
    for verb in ("create", "update", "patch", "apply", "delete"):
        with pytest.raises(WriteFenced):
            await client.request(verb, "/api/v1/x", body={})
    assert len(api.calls) == 1, "no write may be sent past the fence"
    await client.request("get", "/api/v1/x")  # reads are not fenced
    assert api.calls[-1][2] == 30.0


async def test_sibling_has_its_own_budget_over_the_same_connections() -> None:
    api = ScriptedApi()
    client = RestClient(api, max_inflight_writes=4, write_fence=lambda: 0.0)
    elector = client.sibling(limiter=None, max_inflight_writes=None, write_fence=None)
    assert elector.api_client is client.api_client
    assert elector.write_slots is None and elector.write_fence is None
    assert client.sibling().write_slots is client.write_slots
