"""informers.objects: the nested-field accessors read a missing, null or wrongly typed step as the typed
empty value, and never copy or modify the object."""

from __future__ import annotations

from typing import Any

from informers.objects import (
    annotations_of,
    condition,
    conditions_of,
    container_statuses,
    controlled_by,
    controller_ref,
    created_at,
    deleting,
    dig,
    dig_list,
    dig_map,
    dig_str,
    find_condition,
    get_path,
    key_of,
    labels_of,
    name_of,
    namespace_of,
    owner_refs,
    spec_of,
    status_of,
    uid_of,
)

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
    assert dig(OBJ, "status", "resolvedTemplate", "name") == "t"
    assert dig(OBJ, "status", "nope", "name") is None
    assert dig(OBJ, "spec", "routing", "enabled") is None  # a null step
    assert dig(OBJ, "spec", "env", "name") is None  # a list is not walked into
    assert dig(None, "spec") is None
    assert dig(OBJ) is OBJ
    assert get_path(OBJ, "spec.caching.enabled") is True


def test_typed_variants_return_the_typed_empty_value_for_missing_null_or_wrong_types() -> None:
    assert dig_map(OBJ, "spec", "caching") == {"enabled": True}
    assert dig_map(OBJ, "spec", "routing") == {}
    assert dig_map(OBJ, "spec", "env") == {}  # a list is not a mapping
    assert dig_map(None, "spec") == {}
    assert list(dig_list(OBJ, "spec", "env")) == [{"name": "A"}]
    assert list(dig_list(OBJ, "spec", "caching")) == []  # a mapping is not a list
    assert list(dig_list(OBJ, "spec", "image")) == []  # nor is a string
    assert list(dig_list(None, "x")) == []
    assert dig_str(OBJ, "status", "resolvedTemplate", "scope") == "Namespace"
    assert dig_str(OBJ, "spec", "replicas") == ""  # as str(x or ""): 0 reads as empty
    assert dig_str(OBJ, "spec", "image", default="-") == "-"
    assert dig_str(OBJ, "metadata", "missing", default="d") == "d"


def test_returned_sections_are_the_objects_own_not_copies() -> None:
    assert dig_map(OBJ, "spec", "caching") is OBJ["spec"]["caching"]
    assert dig_list(OBJ, "spec", "env") is OBJ["spec"]["env"]


def test_standard_sections_and_metadata() -> None:
    assert spec_of(OBJ) is OBJ["spec"] and status_of(OBJ) is OBJ["status"]
    assert spec_of({"spec": None}) == {} and status_of(None) == {}
    assert (name_of(OBJ), namespace_of(OBJ), uid_of(OBJ), key_of(OBJ)) == ("svc", "ns", "u1", "ns/svc")
    cluster = {"metadata": {"name": "c", "namespace": ""}}
    assert namespace_of(cluster) is None and key_of(cluster) == "c"
    assert labels_of(OBJ) == {"a": "1"} and annotations_of(OBJ) == {}
    assert created_at(OBJ) == "2026-01-02T03:04:05Z" and created_at({}) == ""
    assert not deleting(OBJ) and deleting({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}})


def test_owner_references() -> None:
    assert [r["name"] for r in owner_refs(OBJ)] == ["other", "owner"]
    ref = controller_ref(OBJ)
    assert ref is not None and ref["name"] == "owner"
    assert controlled_by(OBJ, "u2") and not controlled_by(OBJ, "u0") and not controlled_by(None, "u2")
    assert controller_ref({"metadata": {"ownerReferences": None}}) is None


def test_conditions() -> None:
    assert [c["type"] for c in conditions_of(OBJ)] == ["Ready"]
    ready = condition(OBJ, "Ready")
    assert ready is not None and ready["reason"] == "Waiting"
    assert condition(OBJ, "Ready", "True") is None  # the first of the type decides
    assert condition(OBJ, "Ready", "False") is ready
    assert condition(OBJ, "Failure") is None and condition(None, "Ready") is None
    assert find_condition([{"type": "A", "status": "True"}, "junk"], "A", "True") == {"type": "A", "status": "True"}


def test_container_statuses_lists_init_containers_first() -> None:
    assert [c["name"] for c in container_statuses(OBJ)] == ["init", "main"]
    assert container_statuses(None) == []
