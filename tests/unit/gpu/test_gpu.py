"""GPU availability from node labels."""

from __future__ import annotations

from typing import Any

import pytest

from aimctl.gpu import gpu_available, node_gpu_models, node_offers


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
