"""Children of an API the cluster does not serve are reported as a condition, not applied."""

from __future__ import annotations

from aimctl.controllers.base import Desired, KindController, _report_missing_apis
from aimctl.kube.resources import CONFIG_MAPS, HTTP_ROUTES, INFERENCE_SERVICES


def test_children_of_missing_apis_are_held_back_and_named() -> None:
    class Probe:
        _api_missing = staticmethod(lambda r: r in (INFERENCE_SERVICES, HTTP_ROUTES))
        _installed = KindController._installed

    missing: list = []  # type: ignore[type-arg]
    children = [Desired(INFERENCE_SERVICES, {}, None), Desired(CONFIG_MAPS, {}, None), Desired(HTTP_ROUTES, {}, None)]
    kept = Probe()._installed(children, missing)  # type: ignore[arg-type]
    assert [c.resource for c in kept] == [CONFIG_MAPS]
    assert missing == [INFERENCE_SERVICES, HTTP_ROUTES]

    obj = {"metadata": {"generation": 3}, "status": {}}
    status: dict = {"conditions": [{"type": "Ready", "status": "False"}]}  # type: ignore[type-arg]
    _report_missing_apis(status, [INFERENCE_SERVICES], obj, "AIMService")
    cond = status["conditions"][-1]
    assert (cond["type"], cond["status"], cond["reason"]) == ("APIsInstalled", "False", "KServeNotInstalled")
    assert "KServe API (serving.kserve.io/v1beta1 inferenceservices)" in cond["message"]
    assert "InferenceService" in cond["message"] and cond["observedGeneration"] == 3

    # the transition time is kept while the condition stays False
    obj["status"] = {"conditions": [cond]}
    again: dict = {"conditions": []}  # type: ignore[type-arg]
    _report_missing_apis(again, [INFERENCE_SERVICES], obj, "AIMService")
    assert again["conditions"][0]["lastTransitionTime"] == cond["lastTransitionTime"]

    nothing: dict = {"conditions": []}  # type: ignore[type-arg]
    _report_missing_apis(nothing, [], obj, "AIMService")
    assert nothing == {"conditions": []}
