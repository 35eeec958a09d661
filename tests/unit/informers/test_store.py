"""Store, indexes, key helpers and transforms."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from informers import indexers
from informers.store import Store, object_key, split_key
from informers.transform import LAST_APPLIED, slim, strip_managed_fields


def obj(name: str, ns: str | None = "ns", rv: str = "1", **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "resourceVersion": rv, **extra.pop("meta", {})}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **extra}


def owned(name: str, owner_uid: str, controller: bool = True, rv: str = "1") -> dict[str, Any]:
    return obj(
        name,
        rv=rv,
        meta={"ownerReferences": [{"uid": owner_uid, "controller": controller, "kind": "AIMService", "name": "o"}]},
    )


def test_keys() -> None:
    assert object_key(obj("a")) == "ns/a"
    assert object_key(obj("n", ns=None)) == "n"
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("n") == (None, "n")


def test_upsert_delete_and_owner_index() -> None:
    s = Store({indexers.BY_OWNER_UID: indexers.owner_uids})
    s.upsert(owned("c1", "u1"))
    s.upsert(owned("c2", "u1"))
    s.upsert(owned("c3", "u2"))
    assert s.keys_by_index(indexers.BY_OWNER_UID, "u1") == ["ns/c1", "ns/c2"]
    # Re-owning moves the object between index buckets.
    s.upsert(owned("c2", "u2", rv="2"))
    assert s.keys_by_index(indexers.BY_OWNER_UID, "u1") == ["ns/c1"]
    assert s.keys_by_index(indexers.BY_OWNER_UID, "u2") == ["ns/c2", "ns/c3"]
    assert s.delete("ns/c1") is not None
    assert s.keys_by_index(indexers.BY_OWNER_UID, "u1") == []
    assert indexers.BY_OWNER_UID in s.indexer_names()
    assert "u1" not in s.index_values(indexers.BY_OWNER_UID), "empty buckets are dropped"


def test_indexer_added_later_indexes_existing_objects() -> None:
    s = Store()
    s.upsert(owned("c1", "u1"))
    s.add_indexer(indexers.BY_CONTROLLER_UID, indexers.controller_uid)
    assert s.keys_by_index(indexers.BY_CONTROLLER_UID, "u1") == ["ns/c1"]
    s.add_indexer(indexers.BY_CONTROLLER_UID, indexers.controller_uid)  # same function: no-op
    with pytest.raises(ValueError, match="already registered"):
        s.add_indexer(indexers.BY_CONTROLLER_UID, indexers.owner_uids)


def test_controller_uid_ignores_non_controller_owners() -> None:
    assert indexers.controller_uid(owned("c", "u", controller=False)) == []
    assert indexers.owner_uids(owned("c", "u", controller=False)) == ["u"]


def test_field_and_label_indexers() -> None:
    by_template = indexers.by_field("spec.templateRef")
    by_claim = indexers.by_field("spec.volumes.*.persistentVolumeClaim.claimName")
    by_app = indexers.by_label("app")
    o = obj(
        "svc",
        spec={
            "templateRef": "t1",
            "volumes": [
                {"persistentVolumeClaim": {"claimName": "p1"}},
                {"emptyDir": {}},
                {"persistentVolumeClaim": {"claimName": "p2"}},
            ],
        },
        meta={"labels": {"app": "x"}},
    )
    assert by_template(o) == ["ns/t1"]
    assert by_claim(o) == ["ns/p1", "ns/p2"]
    assert by_app(o) == ["ns/x"]
    assert indexers.by_field("spec.missing")(o) == []
    assert indexers.by_label("app", namespaced=False)(o) == ["x"]


def test_replace_reports_exact_diff_and_keeps_unchanged() -> None:
    s = Store()
    a, b, c = obj("a"), obj("b"), obj("c")
    s.replace([a, b, c])
    b2 = obj("b", rv="2")
    d = obj("d")
    diff = s.replace([a, b2, d, obj("c", rv="1")])
    assert [object_key(o) for o in diff.added] == ["ns/d"]
    assert [(object_key(o), object_key(n)) for o, n in diff.updated] == [("ns/b", "ns/b")]
    assert diff.deleted == []
    assert s.get("ns/a") is a, "unchanged objects keep their identity"
    diff = s.replace([d])
    assert sorted(object_key(o) for o in diff.deleted) == ["ns/a", "ns/b", "ns/c"]


def test_replace_scoped_to_a_namespace_leaves_others_alone() -> None:
    s = Store()
    s.replace([obj("a", ns="n1"), obj("b", ns="n2")])
    diff = s.replace([], namespace="n1")
    assert [object_key(o) for o in diff.deleted] == ["n1/a"]
    assert s.keys() == ["n2/b"]
    assert [object_key(o) for o in s.list("n2")] == ["n2/b"]


@settings(max_examples=200, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.sampled_from(["up", "del"]), st.sampled_from("abcdef"), st.sampled_from(["u1", "u2", "u3"])),
        max_size=60,
    )
)
def test_index_always_matches_content(ops: list[tuple[str, str, str]]) -> None:
    s = Store({"o": indexers.owner_uids})
    for i, (op, name, uid) in enumerate(ops):
        if op == "up":
            s.upsert(owned(name, uid, rv=str(i)))
        else:
            s.delete(f"ns/{name}")
    for uid in ("u1", "u2", "u3"):
        expected = sorted(object_key(o) for o in s if uid in indexers.owner_uids(o))
        assert s.keys_by_index("o", uid) == expected


def test_strip_managed_fields_does_not_mutate_and_drops_last_applied() -> None:
    o = obj("a", meta={"managedFields": [{"manager": "x"}], "annotations": {LAST_APPLIED: "{}", "keep": "1"}})
    out = strip_managed_fields(o)
    assert "managedFields" not in out["metadata"]
    assert out["metadata"]["annotations"] == {"keep": "1"}
    assert "managedFields" in o["metadata"], "input untouched"
    only_last = obj("b", meta={"annotations": {LAST_APPLIED: "{}"}})
    assert "annotations" not in strip_managed_fields(only_last)["metadata"]
    plain = obj("c")
    assert strip_managed_fields(plain) is plain


def test_slim_projection_keeps_essentials_and_selected_paths() -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "j",
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": "5",
            "labels": {"a": "b"},
            "ownerReferences": [{"uid": "o"}],
            "annotations": {"x": "y"},
            "managedFields": [{}],
        },
        "spec": {"template": {"spec": {"containers": [{"env": [{"name": "T", "value": "s"}]}]}}},
        "status": {"succeeded": 1, "conditions": [{"type": "Complete"}], "startTime": "t"},
    }
    out = slim(["status.succeeded", "status.conditions", "spec.missing"])(job)
    assert out == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "j",
            "namespace": "ns",
            "uid": "u",
            "resourceVersion": "5",
            "labels": {"a": "b"},
            "ownerReferences": [{"uid": "o"}],
        },
        "status": {"succeeded": 1, "conditions": [{"type": "Complete"}]},
    }
    assert slim([], annotations=True)(job)["metadata"]["annotations"] == {"x": "y"}
