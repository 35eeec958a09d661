"""GPU availability from node labels."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimctl.gpu import (
    RULE_LABELS,
    GpuOffer,
    gpu_available,
    gpu_offer,
    labels_name_model,
    node_gpu_models,
    node_offers,
    node_selector_terms,
    selector_terms_select,
)


def node(labels: dict[str, str], gpus: str | None = "8", unschedulable: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": "n", "labels": labels},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"allocatable": {"amd.com/gpu": gpus} if gpus is not None else {}},
    }


MI300X = {"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM", "amd.com/gpu.device-id": "74a1"}


@pytest.mark.parametrize(
    ("labels", "model", "expected"),
    [
        (MI300X, "MI300X", True),
        (MI300X, "mi300x", True),
        (MI300X, "MI300", False),
        (MI300X, "MI325X", False),
        ({"amd.com/gpu.product-name": "AMD_Instinct_MI325X_OAM"}, "MI325X", True),
        ({"beta.amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"}, "MI300X", True),
        ({"amd.com/gpu.device-id": "74a1"}, "MI300X", True),
        ({"beta.amd.com/gpu.device-id": "74A5"}, "MI325X", True),
        ({"amd.com/gpu.device-id": "74b5"}, "MI300X", True),
        ({"amd.com/gpu.device-id": "75a3"}, "MI355X", True),
        ({"amd.com/gpu.device-id": "740c"}, "MI250X", True),
        ({"amd.com/gpu.device-id": "ffff"}, "MI300X", False),
        ({"amd.com/gpu.model": "MI300X"}, "MI300X", True),
        ({"amd.com/gpu.family": "AI"}, "AI", True),
        ({"kubernetes.io/os": "linux"}, "MI300X", False),
    ],
)
def test_model_matching(labels: dict[str, str], model: str, expected: bool) -> None:
    assert node_offers(node(labels), model, 1) is expected


def test_allocatable_count_and_schedulability_matter() -> None:
    assert node_offers(node(MI300X, "8"), "MI300X", 8)
    assert not node_offers(node(MI300X, "4"), "MI300X", 8)
    assert not node_offers(node(MI300X, None), "MI300X", 1)
    assert not node_offers(node(MI300X, unschedulable=True), "MI300X", 1)


def test_any_node_suffices() -> None:
    assert gpu_available([node({}), node(MI300X)], "MI300X", 2)
    assert not gpu_available([], "MI300X", 1)
    assert "MI300X" in node_gpu_models(node(MI300X))


# -- one rule for availability and affinity --------------------------------------------------------

_VALUES = st.sampled_from(
    [
        "AMD_Instinct_MI300X_OAM",
        "AMD_Instinct_MI325X_OAM",
        "Instinct MI300X",
        "MI300X",
        "mi300x",
        "MI300X-VF",
        "MI300",
        "74a1",
        "74A1",
        "74a5",
        "74b5",
        "ffff",
        "AI",
        "",
    ]
)
_NODE_LABELS = st.dictionaries(st.sampled_from([*RULE_LABELS, "kubernetes.io/os"]), _VALUES, max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NODE_LABELS, max_size=5), st.sampled_from(["MI300X", "mi325x", "MI300", "AI", "MI355X"]))
def test_the_affinity_selects_exactly_the_nodes_the_check_counts(labels: list[dict[str, str]], model: str) -> None:
    nodes = [node(lab) for lab in labels]
    terms = node_selector_terms(model, nodes)
    for n in nodes:
        assert selector_terms_select(terms, n) == labels_name_model(n, model)
        # offering capacity implies being selected
        if node_offers(n, model, 1):
            assert selector_terms_select(terms, n)


def test_a_node_labelled_only_with_the_product_name_is_counted_and_selected() -> None:
    only_name = node({"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"})
    assert node_offers(only_name, "MI300X", 1)
    terms = node_selector_terms("MI300X", [only_name])
    assert selector_terms_select(terms, only_name)
    product = [e for t in terms for e in t["matchExpressions"] if e["key"] == "amd.com/gpu.product-name"]
    assert product == [{"key": "amd.com/gpu.product-name", "operator": "In", "values": ["AMD_Instinct_MI300X_OAM"]}]
    # a node of another model is neither counted nor selected
    other = node({"amd.com/gpu.product-name": "AMD_Instinct_MI325X_OAM"})
    assert not node_offers(other, "MI300X", 1)
    assert not selector_terms_select(node_selector_terms("MI300X", [only_name, other]), other)


def test_terms_are_deterministic_and_ignore_cordoning() -> None:
    a = node({"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"})
    b = node({"beta.amd.com/gpu.product-name": "Instinct MI300X"}, unschedulable=True)
    assert node_selector_terms("MI300X", [a, b]) == node_selector_terms("MI300X", [b, a])
    assert node_selector_terms("MI300X", [a, b]) == node_selector_terms("MI300X", [a, {**b, "spec": {}}])


def test_gpu_offer_tells_cordoned_from_absent() -> None:
    assert gpu_offer([node(MI300X)], "MI300X", 1) is GpuOffer.OFFERED
    assert gpu_offer([node(MI300X, unschedulable=True)], "MI300X", 1) is GpuOffer.CORDONED
    assert gpu_offer([node(MI300X, unschedulable=True), node(MI300X)], "MI300X", 1) is GpuOffer.OFFERED
    assert gpu_offer([node(MI300X, "2", unschedulable=True)], "MI300X", 4) is GpuOffer.NONE
    assert gpu_offer([], "MI300X", 1) is GpuOffer.NONE
