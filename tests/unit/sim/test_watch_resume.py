"""The simulators' Watcher stays cheap for the apiserver at 10 000 objects (a scripted API, no network).

Before: every watch ended after ``timeoutSeconds`` (60 s) with a full, unpaginated relist, and a list
that timed out (30 s, under load at 10 000 objects) was retried 0.5 s later — a loop of the most
expensive request there is, which the apiserver of the 10 000-service benchmark did not survive.
Now: lists are paginated, a watch that ends is resumed from the last resourceVersion it delivered,
and only 410 Gone leads to a relist.
"""

from __future__ import annotations

import json
from typing import Any

import anyio

from tests.sim.watch import Watcher


class Answer:
    def __init__(self, status: int, body: Any = None, lines: list[dict[str, Any]] | None = None) -> None:
        self.status = status
        self.reason = "Reason"
        self._raw = json.dumps(body).encode() if body is not None else b""
        self._lines = [json.dumps(e).encode() + b"\n" for e in lines or []]

    async def read(self) -> bytes:
        return self._raw

    @property
    def content(self) -> Any:
        async def gen() -> Any:
            for line in self._lines:
                yield line

        return gen()

    def release(self) -> None:
        pass


def obj(name: str, rv: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}}


class ScriptedApi:
    """Answers from a script; records each request's query. When the script runs out it waits forever."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.queries: list[dict[str, str]] = []

    async def call_api(self, path: str, method: str, **kw: Any) -> Answer:
        self.queries.append(dict(kw.get("query_params") or []))
        if not self.answers:
            await anyio.sleep_forever()
        return self.answers.pop(0)


def watch_event(kind: str, o: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": o}


async def test_lists_in_pages_and_resumes_a_closed_watch_without_relisting() -> None:
    api = ScriptedApi(
        Answer(200, {"items": [obj("a", "1")], "metadata": {"continue": "tok"}}),
        Answer(200, {"items": [obj("b", "2")], "metadata": {"resourceVersion": "10"}}),
        Answer(200, lines=[watch_event("ADDED", obj("c", "11")), {"type": "BOOKMARK", "object": obj("", "15")}]),
        Answer(200, lines=[watch_event("MODIFIED", obj("a", "16"))]),
    )
    w = Watcher(api, "/apis/x/v1/things", page_size=2)  # type: ignore[arg-type]
    with anyio.move_on_after(1):
        await w.run()
    lists = [q for q in api.queries if "watch" not in q]
    watches = [q for q in api.queries if "watch" in q]
    assert [q.get("continue") for q in lists] == [None, "tok"] and all(q["limit"] == "2" for q in lists)
    assert [q["resourceVersion"] for q in watches[:3]] == ["10", "15", "16"], "each watch resumes where the last ended"
    assert w.lists == 1, "a watch that ends is resumed, never followed by a relist"
    assert sorted(w.items) == ["ns/a", "ns/b", "ns/c"]


async def test_relists_only_when_the_resource_version_is_gone_and_backs_off_on_errors() -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
    api = ScriptedApi(
        Answer(200, {"items": [obj("a", "1")], "metadata": {"resourceVersion": "10"}}),
        Answer(200, lines=[gone]),
        Answer(500, {"kind": "Status", "code": 500}),  # the relist fails once: backs off, lists again
        Answer(200, {"items": [], "metadata": {"resourceVersion": "30"}}),
    )
    deleted: list[str] = []
    w = Watcher(api, "/apis/x/v1/things", on_delete=deleted.append)  # type: ignore[arg-type]
    with anyio.move_on_after(3):
        await w.run()
    kinds = ["watch" if "watch" in q else "list" for q in api.queries]
    assert kinds == ["list", "watch", "list", "list", "watch"]
    assert api.queries[-1]["resourceVersion"] == "30"
    assert deleted == ["ns/a"], "the relist reports what was deleted meanwhile"
