"""Which services wait for an automatic template choice (the index template and node events use)."""

from __future__ import annotations

from typing import Any

from aimctl.controllers.service import index_unresolved_image, index_unresolved_image_any_ns, unresolved_image


def svc(ref: str = "", scope: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "s", "namespace": "ns"}, "spec": {"aimImageName": "img"}}
    if ref:
        obj["spec"]["templateRef"] = ref
    if scope:
        obj["status"] = {"resolvedTemplate": {"name": "t", "scope": scope}}
    return obj


def test_only_services_without_ref_and_without_a_found_template_wait() -> None:
    assert unresolved_image(svc()) == "img"
    assert unresolved_image(svc(scope="Unknown")) == "img"
    assert unresolved_image(svc(scope="Namespace")) == ""
    assert unresolved_image(svc(scope="Cluster")) == ""
    assert unresolved_image(svc(ref="t")) == ""
    assert index_unresolved_image(svc()) == ["ns/img"]
    assert index_unresolved_image_any_ns(svc()) == ["img"]
    assert index_unresolved_image(svc(ref="t")) == [] == index_unresolved_image_any_ns(svc(scope="Cluster"))
