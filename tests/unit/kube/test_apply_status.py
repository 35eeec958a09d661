"""The no-op detection of server-side apply and status writes (pure comparison)."""

from __future__ import annotations

from typing import Any

from aimctl.kube.apply import (
    DESIRED_HASH,
    desired_hash,
    field_manager,
    is_subset,
    needs_apply,
    semantically_equal,
    with_desired_hash,
)
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
    cached = {**CACHED, "metadata": {**CACHED["metadata"], "annotations": {DESIRED_HASH: desired_hash(desired)}}}
    assert not needs_apply(desired, cached)
    # Subset comparison alone (status subresources record no hash).
    assert not needs_apply(desired, CACHED, hashed=False)


def stored_as_applied(desired: dict[str, Any]) -> dict[str, Any]:
    """What the apiserver stores for an apply of ``desired`` by the applier (plus server fields)."""
    sent = with_desired_hash(desired)
    return {**sent, "metadata": {**sent["metadata"], "uid": "u", "resourceVersion": "9"}}


def test_a_field_the_builder_stops_setting_triggers_an_apply() -> None:
    """The subset test alone cannot see a removal; the recorded hash can (SSA then removes it)."""
    before = {
        "metadata": {"name": "rt", "namespace": "ns", "labels": {"a": "1", "gone": "x"}},
        "spec": {"imagePullSecrets": [{"name": "s1"}], "env": [{"name": "A", "value": "1"}]},
    }
    cached = stored_as_applied(before)
    assert not needs_apply(before, cached), "unchanged desired manifest: zero writes"
    no_secret = {**before, "spec": {"env": [{"name": "A", "value": "1"}]}}
    assert is_subset(no_secret, cached), "a removal is invisible to the subset test"
    assert needs_apply(no_secret, cached)
    no_label = {**before, "metadata": {**before["metadata"], "labels": {"a": "1"}}}
    assert needs_apply(no_label, cached)


def test_hash_ignores_key_order_and_its_own_annotation() -> None:
    a = {"metadata": {"name": "x", "annotations": {"k": "v"}}, "spec": {"a": 1, "b": 2}}
    b = {"spec": {"b": 2, "a": 1}, "metadata": {"annotations": {"k": "v", DESIRED_HASH: "old"}, "name": "x"}}
    assert desired_hash(a) == desired_hash(b)
    assert desired_hash(with_desired_hash(a)) == desired_hash(a)
    assert desired_hash(a) != desired_hash({**a, "spec": {"a": 1}})


def test_child_without_recorded_hash_is_applied_once() -> None:
    """A child written by an older operator (no annotation) is applied once at upgrade."""
    desired = {"metadata": {"name": "c", "namespace": "ns"}, "data": {"k": "v"}}
    old = {**desired, "metadata": {"name": "c", "namespace": "ns", "uid": "u"}}
    assert needs_apply(desired, old)
    assert not needs_apply(desired, stored_as_applied(desired))


def test_drift_of_an_owned_field_is_repaired_even_with_the_same_hash() -> None:
    desired = {"metadata": {"name": "c", "namespace": "ns"}, "data": {"k": "v"}}
    drifted = stored_as_applied(desired)
    drifted["data"] = {"k": "edited by hand"}
    assert needs_apply(desired, drifted)


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


def test_hash_equals_the_one_inference_services_already_carry() -> None:
    """Before every child carried the hash, the AIMService controller recorded the same digest on
    InferenceServices and HTTPRoutes: those are not rewritten at upgrade."""
    import hashlib
    import json

    manifest = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "svc", "namespace": "ns", "annotations": {"note": "é"}},
        "spec": {"predictor": {"minReplicas": 1}},
    }
    old = hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    assert desired_hash(manifest) == old
    assert with_desired_hash(manifest)["metadata"]["annotations"] == {"note": "é", DESIRED_HASH: old}
