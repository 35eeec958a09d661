"""informers.objects: the nested-field accessors read a missing, null or wrongly typed step as the typed
empty value, and never copy or modify the object."""

from __future__ import annotations

from typing import Any

from informers import objects as o

OBJ: dict[str, Any] = {
    "metadata": {
        "name": "svc",
        "namespace": "ns",
        "uid": "u1",
        "labels": {"a": "1"},
        "annotations": None,
        "creationTimestamp": "2026-01-02T03:04:05Z",
        "ownerReferences": [
            {"kind": "X", "name": "other", "uid": "u0"},
            {"kind": "AIMService", "name": "owner", "uid": "u2", "controller": True},
        ],
    },
    "spec": {"replicas": 0, "routing": None, "caching": {"enabled": True}, "env": [{"name": "A"}], "image": ""},
    "status": {
        "resolvedTemplate": {"name": "t", "scope": "Namespace"},
        "conditions": [{"type": "Ready", "status": "False", "reason": "Waiting"}],
        "containerStatuses": [{"name": "main"}],
        "initContainerStatuses": [{"name": "init"}],
    },
}


def test_dig_walks_mappings_and_reads_missing_or_null_steps_as_none() -> None:
    assert o.dig(OBJ, "status", "resolvedTemplate", "name") == "t"
    assert o.dig(OBJ, "status", "nope", "name") is None
    assert o.dig(OBJ, "spec", "routing", "enabled") is None  # a null step
    assert o.dig(OBJ, "spec", "env", "name") is None  # a list is not walked into
    assert o.dig(None, "spec") is None
    assert o.dig(OBJ) is OBJ
    assert o.get_path(OBJ, "spec.caching.enabled") is True


def test_typed_variants_return_the_typed_empty_value_for_missing_null_or_wrong_types() -> None:
    assert o.dig_map(OBJ, "spec", "caching") == {"enabled": True}
    assert o.dig_map(OBJ, "spec", "routing") == {}
    assert o.dig_map(OBJ, "spec", "env") == {}  # a list is not a mapping
    assert o.dig_map(None, "spec") == {}
    assert list(o.dig_list(OBJ, "spec", "env")) == [{"name": "A"}]
    assert list(o.dig_list(OBJ, "spec", "caching")) == []  # a mapping is not a list
    assert list(o.dig_list(OBJ, "spec", "image")) == []  # nor is a string
    assert list(o.dig_list(None, "x")) == []
    assert o.dig_str(OBJ, "status", "resolvedTemplate", "scope") == "Namespace"
    assert o.dig_str(OBJ, "spec", "replicas") == ""  # as str(x or ""): 0 reads as empty
    assert o.dig_str(OBJ, "spec", "image", default="-") == "-"
    assert o.dig_str(OBJ, "metadata", "missing", default="d") == "d"


def test_returned_sections_are_the_objects_own_not_copies() -> None:
    assert o.dig_map(OBJ, "spec", "caching") is OBJ["spec"]["caching"]
    assert o.dig_list(OBJ, "spec", "env") is OBJ["spec"]["env"]


def test_standard_sections_and_metadata() -> None:
    assert o.spec_of(OBJ) is OBJ["spec"] and o.status_of(OBJ) is OBJ["status"]
    assert o.spec_of({"spec": None}) == {} and o.status_of(None) == {}
    assert (o.name_of(OBJ), o.namespace_of(OBJ), o.uid_of(OBJ), o.key_of(OBJ)) == ("svc", "ns", "u1", "ns/svc")
    cluster = {"metadata": {"name": "c", "namespace": ""}}
    assert o.namespace_of(cluster) is None and o.key_of(cluster) == "c"
    assert o.labels_of(OBJ) == {"a": "1"} and o.annotations_of(OBJ) == {}
    assert o.created_at(OBJ) == "2026-01-02T03:04:05Z" and o.created_at({}) == ""
    assert not o.deleting(OBJ) and o.deleting({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})


def test_owner_references() -> None:
    assert [r["name"] for r in o.owner_refs(OBJ)] == ["other", "owner"]
    ref = o.controller_ref(OBJ)
    assert ref is not None and ref["name"] == "owner"
    assert o.controlled_by(OBJ, "u2") and not o.controlled_by(OBJ, "u0") and not o.controlled_by(None, "u2")
    assert o.controller_ref({"metadata": {"ownerReferences": None}}) is None


def test_conditions() -> None:
    assert [c["type"] for c in o.conditions_of(OBJ)] == ["Ready"]
    ready = o.condition(OBJ, "Ready")
    assert ready is not None and ready["reason"] == "Waiting"
    assert o.condition(OBJ, "Ready", "True") is None  # the first of the type decides
    assert o.condition(OBJ, "Ready", "False") is ready
    assert o.condition(OBJ, "Failure") is None and o.condition(None, "Ready") is None
    assert o.find_condition([{"type": "A", "status": "True"}, "junk"], "A", "True") == {"type": "A", "status": "True"}


def test_container_statuses_lists_init_containers_first() -> None:
    assert [c["name"] for c in o.container_statuses(OBJ)] == ["init", "main"]
    assert o.container_statuses(None) == []
