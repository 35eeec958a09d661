"""The reflector's restart policy against a scripted client (no network): relists back off, an
over-long watch event is a retryable error followed by a relist, a missing API is reported and
picked up when it appears."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp.http_exceptions import LineTooLong

from informers.backoff import Backoff
from informers.informer import Informer
from informers.reflector import Reflector, Selection
from informers.resource import Resource
from informers.rest import ApiError

CM = Resource("", "v1", "configmaps", "ConfigMap")
SECRETS = Resource("", "v1", "secrets", "Secret")


class Stop(Exception):
    """Ends a scripted run."""


class Lines:
    def __init__(self, lines: list[bytes | Exception]) -> None:
        self.lines = lines
        self.max_line_lengths: list[int | None] = []

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        self.max_line_lengths.append(max_line_length)
        if not self.lines:
            return b""
        item = self.lines.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class Resp:
    def __init__(self, content: Lines) -> None:
        self.content = content


class ScriptedClient:
    """``lists``: answers to list requests (a page dict or an exception); ``watches``: each watch's
    lines (or an exception raised when it opens). Runs out → :class:`Stop`."""

    def __init__(self, lists: list[Any], watches: list[Any]) -> None:
        self.lists = lists
        self.watches = watches
        self.calls: list[str] = []
        self.queries: list[list[tuple[str, str]]] = []

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        self.calls.append("list")
        self.queries.append(list(kw.get("query") or []))
        if not self.lists:
            raise Stop
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @asynccontextmanager
    async def stream(self, path: str, query: Any, **kw: Any) -> AsyncIterator[Resp]:
        self.calls.append("watch")
        self.queries.append(list(query))
        if not self.watches:
            raise Stop
        answer = self.watches.pop(0)
        if isinstance(answer, Exception):
            raise answer
        yield Resp(Lines(answer))


def page(rv: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": rv}, "items": list(items)}


def cm(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


def event(etype: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": etype, "object": obj}).encode() + b"\n"


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(anyio, "sleep", fake_sleep)
    return slept


def expired() -> ApiError:
    return ApiError(410, "Expired", "too old resource version")


def too_large_rv() -> ApiError:
    return ApiError(504, "Timeout", "Too large resource version: 100, current: 5")


def informer(client: ScriptedClient, **kw: Any) -> Informer:
    backoff = Backoff(jitter=0.0, clock=lambda: 0.0, rng=random.Random(1))
    return Informer(client, CM, namespaces=["ns"], backoff=backoff, **kw)  # type: ignore[arg-type]


async def run_until_stop(inf: Informer) -> None:
    with pytest.raises(Stop):
        await inf.reflectors[0].run()


async def test_relists_after_410_and_too_large_rv_back_off_exponentially(sleeps: list[float]) -> None:
    lists = [page("10", cm("a", "10")) for _ in range(5)]
    watches: list[Any] = [expired(), too_large_rv(), expired(), expired(), expired()]
    inf = informer(ScriptedClient(lists, watches))
    await run_until_stop(inf)
    r = inf.reflectors[0]
    assert r.relists == 5
    # client-go's reflector: every ListAndWatch restart waits 0.8 s x2 ... (jitter off here).
    assert sleeps == [0.8, 1.6, 3.2, 6.4, 12.8]


async def test_an_over_long_watch_event_is_a_retryable_error_followed_by_a_relist(sleeps: list[float]) -> None:
    too_long = LineTooLong(b"{...", 4 * 1024 * 1024)
    client = ScriptedClient(
        [page("10", cm("a", "10")), page("12", cm("a", "12"))],
        [[event("ADDED", cm("b", "11")), too_long]],
    )
    inf = informer(client)
    await run_until_stop(inf)
    r = inf.reflectors[0]
    assert client.calls == ["list", "watch", "list", "watch"]
    assert r.relists == 1 and len(sleeps) == 1
    # after the relist the store equals the second list: b (seen on the watch) is gone, a is current
    assert {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in inf.store} == {"a": "12"}


async def test_watch_lines_are_read_up_to_the_event_limit_not_aiohttps_default() -> None:
    lines = Lines([event("ADDED", cm("b", "11"))])
    client = ScriptedClient([page("10")], [])
    r = Reflector(client, CM, informer(client), namespace="ns", max_event_bytes=123)  # type: ignore[arg-type]
    r.last_resource_version = "10"

    @asynccontextmanager
    async def stream(*a: Any, **kw: Any) -> AsyncIterator[Resp]:
        yield Resp(lines)

    client.stream = stream  # type: ignore[method-assign]
    await r._watch()
    assert lines.max_line_lengths and all(n == 123 for n in lines.max_line_lengths)


async def test_a_real_over_long_line_from_aiohttp_is_caught() -> None:
    """aiohttp's own StreamReader raises LineTooLong (not a ClientError) past the limit."""
    from aiohttp import streams

    class Proto:
        _reading_paused = False

        def pause_reading(self, **kw: Any) -> None: ...

        def resume_reading(self, **kw: Any) -> None: ...

    reader = streams.StreamReader(Proto(), 2**16, loop=__import__("asyncio").get_running_loop())  # type: ignore[arg-type]
    reader.feed_data(b"x" * 300_000 + b"\n")
    reader.feed_eof()
    with pytest.raises(LineTooLong):
        await reader.readline()
    assert not isinstance(LineTooLong(b"", 1), aiohttp.ClientError | ValueError | OSError)


async def test_missing_api_counts_as_synced_and_empty_and_is_picked_up_when_it_appears(sleeps: list[float]) -> None:
    not_found = ApiError(404, "NotFound", "the server could not find the requested resource")
    changes: list[bool] = []
    client = ScriptedClient([not_found, not_found, page("20", cm("a", "20"))], [[]])
    synced_while_missing: list[bool] = []

    def on_change(i: Informer) -> None:
        changes.append(i.api_missing)
        synced_while_missing.append(i.has_synced)

    inf = informer(client, optional_api=True, on_api_change=on_change)
    await run_until_stop(inf)
    assert changes == [True, False], "one report when missing, one when it appears"
    assert synced_while_missing[0], "an optional API's informer counts as synced (empty) while it is missing"
    assert inf.has_synced
    assert [o["metadata"]["name"] for o in inf.store] == ["a"]
    assert sleeps[:2] == [0.8, 1.6], "the list is retried with backoff while the API is missing"


async def test_a_missing_required_api_does_not_count_as_synced(sleeps: list[float]) -> None:
    not_found = ApiError(404, "NotFound", "the server could not find the requested resource")
    inf = informer(ScriptedClient([not_found, not_found], []))
    await run_until_stop(inf)
    assert inf.api_missing and not inf.has_synced


async def test_selections_list_each_type_and_relists_keep_the_other_types_objects(sleeps: list[float]) -> None:
    def secret(name: str, rv: str, type_: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}, "type": type_}

    json_type, cfg_type = "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"
    selections = [
        Selection(f"type={t}", lambda o, t=t: o.get("type") == t)  # type: ignore[misc]
        for t in (json_type, cfg_type)
    ]
    client = ScriptedClient(
        [page("5", secret("j", "5", json_type)), page("6", secret("c", "6", cfg_type)), page("7")],
        [],
    )
    inf = Informer(client, SECRETS, namespaces=["ns"], selections=selections)  # type: ignore[arg-type]
    assert len(inf.reflectors) == 2
    await inf.reflectors[0]._list()
    await inf.reflectors[1]._list()
    assert sorted(o["metadata"]["name"] for o in inf.store) == ["c", "j"]
    assert ("fieldSelector", f"type={json_type}") in client.queries[0]
    assert ("fieldSelector", f"type={cfg_type}") in client.queries[1]
    await inf.reflectors[0]._list()  # the dockerconfigjson one is now empty: only "j" goes
    assert [o["metadata"]["name"] for o in inf.store] == ["c"]


async def test_listed_items_are_transformed_page_by_page_once(sleeps: list[float]) -> None:
    """The informer's transform runs on each page as it arrives (the raw pages are not all held
    until the list completes), once per object, and the stored objects are the transformed ones."""
    seen: list[tuple[str, int]] = []
    pages_read = 0

    class Paged(ScriptedClient):
        async def request(self, verb: str, path: str, **kw: Any) -> Any:
            nonlocal pages_read
            pages_read += 1
            return await super().request(verb, path, **kw)

    def slim(obj: dict[str, Any]) -> dict[str, Any]:
        seen.append((obj["metadata"]["name"], pages_read))
        return {"metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}

    def fat(name: str) -> dict[str, Any]:
        return {"metadata": {**cm(name, "10")["metadata"], "managedFields": [{"manager": "x"}]}}

    first = page("10", fat("a"), fat("b"))
    first["metadata"]["continue"] = "next"
    client = Paged([first, page("10", fat("c"))], [])
    inf = informer(client, transform=slim)
    await run_until_stop(inf)
    assert seen == [("a", 1), ("b", 1), ("c", 2)], "each page is transformed before the next is read, once"
    assert all("managedFields" not in o["metadata"] for o in inf.store) and len(inf.store) == 3
