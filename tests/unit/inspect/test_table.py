"""``aimctl get``: kind names, columns and service fields, on fixed objects (no cluster)."""

from __future__ import annotations

import pytest

from aimctl.api.kinds import KINDS, by_kind
from aimctl.inspect import render
from aimctl.inspect.state import age, state_of
from aimctl.inspect.table import UnknownKind, as_list, build_table, resolve_kinds
from aimctl.inspect.tree import Snapshot
from tests.unit.inspect.fixtures import IMAGE, NOW, TEMPLATE_GPU, TEMPLATE_OK, group, obj, running_service


@pytest.mark.parametrize(
    ("arg", "kinds"),
    [
        ("aimservices", ["AIMService"]),
        ("AIMService", ["AIMService"]),
        ("aimservice", ["AIMService"]),
        ("aimsvc", ["AIMService"]),
        ("aimservices.aim.silogen.ai", ["AIMService"]),
        ("aimclst,aimsvc", ["AIMClusterServiceTemplate", "AIMService"]),
        ("aimsvc,aimservices", ["AIMService"]),
    ],
)
def test_kind_names_follow_the_crds(arg: str, kinds: list[str]) -> None:
    assert [k.kind for k in resolve_kinds(arg)] == kinds


@pytest.mark.parametrize("arg", [None, "", "aim", "all"])
def test_no_kind_or_the_category_means_every_kind(arg: str | None) -> None:
    assert resolve_kinds(arg) == list(KINDS)


def test_unknown_kind_lists_the_accepted_names() -> None:
    with pytest.raises(UnknownKind, match=r'"pods" is not an AIM kind; use one of: aimclusterimages \(aimclimg\)'):
        resolve_kinds("pods")


def test_service_columns_template_gpu_ready_and_url() -> None:
    svc, *rest = running_service()
    snap = Snapshot(group(svc, *rest, IMAGE, TEMPLATE_OK), NOW)
    t = build_table(by_kind("AIMService"), snap, all_namespaces=False, wide=False, prefix=False)
    assert t.header == ["NAME", "STATUS", "TEMPLATE", "GPU", "READY", "URL", "AGE"]
    assert t.rows == [["chat", "Running", "llama-mi300x", "1x MI300X", "1/1", "http://10.0.0.1/ns/chat", "10m"]]
    assert t.healths == ["ok"]


def test_ready_replicas_from_kserve_copies_without_pods_and_unknown_without_either() -> None:
    svc, isvc, *_ = running_service()
    isvc["status"]["modelStatus"] = {"copies": {"totalCopies": 2, "failedCopies": 1}}
    svc["spec"]["replicas"] = 2
    t = build_table(
        by_kind("AIMService"), Snapshot(group(svc, isvc), NOW), all_namespaces=False, wide=False, prefix=False
    )
    assert t.rows[0][4] == "1/2"
    blind = Snapshot(group(svc), NOW, unreadable={"Pod": "forbidden", "InferenceService": "forbidden"})
    assert build_table(by_kind("AIMService"), blind, all_namespaces=False, wide=False, prefix=False).rows[0][4] == "?/2"
    assert (
        build_table(
            by_kind("AIMService"), Snapshot(group(svc), NOW), all_namespaces=False, wide=False, prefix=False
        ).rows[0][4]
        == "0/2"
    )


def test_service_without_route_shows_the_inference_service_url() -> None:
    svc, isvc, *_ = running_service()
    del svc["status"]["routing"]
    snap = Snapshot(group(svc, isvc, IMAGE, TEMPLATE_OK), NOW, unreadable={"Pod": "forbidden"})
    t = build_table(by_kind("AIMService"), snap, all_namespaces=True, wide=True, prefix=True)
    assert t.header == ["NAMESPACE", "NAME", "STATUS", "TEMPLATE", "GPU", "READY", "URL", "REASON", "AGE"]
    assert t.rows[0] == [
        "ns",
        "aimservice/chat",
        "Running",
        "llama-mi300x",
        "1x MI300X",
        "0/1",
        "http://chat.ns.example",
        "-",
        "10m",
    ]


def test_template_columns_come_from_the_printer_columns_and_wide_adds_the_reason() -> None:
    snap = Snapshot(group(TEMPLATE_OK, TEMPLATE_GPU), NOW)
    t = build_table(by_kind("AIMClusterServiceTemplate"), snap, all_namespaces=True, wide=True, prefix=False)
    assert t.header == ["NAME", "STATUS", "IMAGE", "METRIC", "PRECISION", "GPUS", "GPU", "REASON", "AGE"]
    assert t.rows == [
        ["llama-mi300x", "Available", "llama", "-", "-", "1", "MI300X", "-", "10m"],
        ["llama-mi325x", "Degraded", "llama", "-", "-", "1", "MI325X", "GPUNotAvailable", "10m"],
    ]
    text = render.table(t.header, t.rows, t.healths, colour=True, status_column=t.status_column)
    assert "\x1b[31mDegraded\x1b[0m" in text and "\x1b[32mAvailable\x1b[0m" in text
    plain = render.table(t.header, t.rows, t.healths, colour=False, status_column=t.status_column)
    assert plain.splitlines()[1].split() == t.rows[0]


def test_runtime_configs_read_their_ready_condition() -> None:
    rc = obj(
        "AIMClusterRuntimeConfig",
        "default",
        status={"conditions": [{"type": "Ready", "status": "False", "reason": "StorageClassNotFound"}]},
    )
    assert state_of("AIMClusterRuntimeConfig", rc).state == "NotReady"
    assert state_of("AIMClusterRuntimeConfig", rc).reason == "StorageClassNotFound"


def test_json_output_is_a_list_without_managed_fields() -> None:
    o = obj("AIMClusterImage", "x")
    o["metadata"]["managedFields"] = [{"manager": "m"}]
    doc = as_list([o])
    assert doc["kind"] == "List" and "managedFields" not in doc["items"][0]["metadata"]
    assert "managedFields" in o["metadata"]


@pytest.mark.parametrize(
    ("ts", "shown"),
    [
        ("2026-01-02T03:09:55Z", "5s"),
        ("2026-01-02T03:06:50Z", "3m10s"),
        ("2026-01-02T02:40:00Z", "30m"),
        ("2026-01-02T00:00:00Z", "3h10m"),
        ("2025-12-30T03:10:00Z", "3d"),
        (None, "-"),
        ("garbage", "-"),
    ],
)
def test_age_is_kubectls_short_form(ts: str | None, shown: str) -> None:
    assert age(ts, NOW) == shown
