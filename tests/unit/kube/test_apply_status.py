"""The no-op detection of server-side apply and status writes (pure comparison)."""

from __future__ import annotations

from typing import Any

from aimctl.kube.apply import field_manager, is_subset, needs_apply, semantically_equal
from aimctl.kube.status import status_changed

CACHED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "c",
        "namespace": "ns",
        "uid": "u",
        "resourceVersion": "7",
        "labels": {"a": "1", "other": "x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "PodTemplate", "name": "p", "uid": "o", "controller": True}],
    },
    "data": {"k": "v", "n": "1"},
}


def test_desired_subset_of_cached_needs_no_apply() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "ns",
            "labels": {"a": "1"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "PodTemplate", "name": "p", "uid": "o", "controller": True}
            ],
        },
        "data": {"k": "v"},
    }
    assert not needs_apply(desired, CACHED)


def test_changed_or_missing_values_need_apply() -> None:
    base = {"metadata": {"name": "c", "namespace": "ns"}}
    assert needs_apply({**base, "data": {"k": "w"}}, CACHED)
    assert needs_apply({**base, "data": {"new": "x"}}, CACHED)
    assert needs_apply({**base, "metadata": {"name": "c", "namespace": "ns", "labels": {"a": "2"}}}, CACHED)
    assert needs_apply({**base, "data": {"k": "v"}}, None)


def test_lists_compare_by_position_and_length() -> None:
    assert is_subset([{"a": 1}], [{"a": 1, "b": 2}])
    assert not is_subset([{"a": 1}], [{"a": 1}, {"a": 2}])
    assert not is_subset([1, 2], [2, 1])


def test_none_means_absent_and_bools_are_not_ints() -> None:
    assert is_subset({"x": None}, {})
    assert not is_subset({"x": None}, {"x": 1})
    assert not is_subset({"x": True}, {"x": 1})
    assert is_subset({"x": 1}, {"x": 1.0})


def test_status_compare_is_exact_modulo_none() -> None:
    cached = {"status": {"status": "Ready", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert not status_changed(cached, {"status": "Ready", "conditions": [{"type": "Ready", "status": "True"}]})
    assert not status_changed(
        cached, {"status": "Ready", "conditions": [{"type": "Ready", "status": "True"}], "message": None}
    )
    assert status_changed(cached, {"status": "Ready"}), "a dropped condition is a change"
    assert status_changed({}, {"status": "Pending"})
    assert semantically_equal({}, {})


def test_field_manager_is_bounded() -> None:
    assert field_manager("aimservice") == "aimctl.aim.silogen.ai/aimservice"
    assert len(field_manager("x" * 300)) == 128
