"""Automatic template choice (aimctl.resolve.choice) and its use by template resolution."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from aimctl.builders.derived_template import derived_name
from aimctl.resolve.choice import (
    CLUSTER,
    NAMESPACE,
    choose_template,
    no_candidate_message,
)
from aimctl.resolve.template import resolve_service_template

IMG = "llama"


def tpl(
    name: str,
    model: str | None = "MI300X",
    count: int = 1,
    metric: str | None = None,
    precision: str | None = None,
    status: str = "Available",
    image: str = IMG,
    namespace: str | None = "ns",
    derived: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"aimImageName": image}
    if model:
        spec["gpuSelector"] = {"model": model, "count": count}
    if metric:
        spec["metric"] = metric
    if precision:
        spec["precision"] = precision
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    if namespace:
        meta["namespace"] = namespace
    if derived:
        meta["labels"] = {"aim.silogen.ai/derived-template": "true"}
    return {"metadata": meta, "spec": spec, "status": {"status": status}}


def gpu_node(product: str, gpus: int = 8, cordoned: bool = False) -> dict[str, Any]:
    return {
        "metadata": {"name": product, "labels": {"amd.com/gpu.product-name": product}},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"allocatable": {"amd.com/gpu": str(gpus)}},
    }


NODES = [gpu_node("AMD_Instinct_MI300X_OAM"), gpu_node("AMD_Instinct_MI325X_OAM", 4)]


def chosen(*args: Any, **kwargs: Any) -> str | None:
    c = choose_template(*args, **kwargs).chosen
    return None if c is None else c.name


# -- filters --------------------------------------------------------------------------------------------


def test_only_available_templates_of_the_image_that_a_node_offers() -> None:
    ns = [
        tpl("pending", status="Pending"),
        tpl("other-image", image="other"),
        tpl("no-node", model="MI355X"),
        tpl("too-many", model="MI325X", count=8),
        tpl("derived", derived=True, model="MI325X"),
        tpl("ok"),
    ]
    choice = choose_template(IMG, ns, [], NODES)
    assert choice.chosen is not None and choice.chosen.name == "ok"
    reasons = {r.name: r.reason for r in choice.rejections}
    assert reasons == {
        "pending": "not Available (Pending)",
        "no-node": "no schedulable node offers 1x MI355X",
        "too-many": "no schedulable node offers 8x MI325X",
    }
    assert choice.waiting


def test_cordoned_nodes_offer_no_new_capacity() -> None:
    assert chosen(IMG, [tpl("a")], [], [gpu_node("AMD_Instinct_MI300X_OAM", cordoned=True)]) is None


def test_cpu_templates_need_no_node() -> None:
    assert chosen(IMG, [tpl("cpu", model=None)], [], []) == "cpu"


def test_overrides_narrow_the_candidates() -> None:
    ns = [tpl("lat", metric="latency"), tpl("thr", metric="throughput"), tpl("unset")]
    assert chosen(IMG, ns, [], NODES, overrides={"metric": "throughput"}) == "thr"
    assert chosen(IMG, ns[:1] + ns[2:], [], NODES, overrides={"metric": "throughput"}) == "unset"
    rejected = choose_template(IMG, ns[:1], [], NODES, overrides={"metric": "throughput"})
    assert rejected.chosen is None
    assert rejected.rejections[0].reason == "metric is latency, the service overrides it to throughput"


def test_a_gpu_override_decides_the_gpu_checked() -> None:
    ns = [tpl("mi300", model="MI300X"), tpl("cpu", model=None)]
    gpu = {"gpuSelector": {"model": "MI325X", "count": 2}}
    # the MI300X template cannot carry an MI325X override; the CPU one can, and a node offers 2x MI325X
    assert chosen(IMG, ns, [], NODES, overrides=gpu) == "cpu"
    too_many = {"gpuSelector": {"model": "MI325X", "count": 8}}
    choice = choose_template(IMG, ns[1:], [], NODES, overrides=too_many)
    assert choice.chosen is None and choice.rejections[0].reason == "no schedulable node offers 8x MI325X"


# -- order ----------------------------------------------------------------------------------------------


def test_order() -> None:
    both = [*NODES, gpu_node("AMD_Instinct_MI355X_OAM")]
    # namespaced before cluster
    assert chosen(IMG, [tpl("n", model="MI300X")], [tpl("c", model="MI355X", namespace=None)], both) == "n"
    # newer GPU first
    assert chosen(IMG, [tpl("a", model="MI300X"), tpl("b", model="MI325X")], [], both) == "b"
    # latency before throughput before unset
    ns = [tpl("t", metric="throughput"), tpl("u"), tpl("l", metric="latency")]
    assert chosen(IMG, ns, [], NODES) == "l"
    # precision: fp8 before fp16
    assert chosen(IMG, [tpl("p16", precision="fp16"), tpl("p8", precision="fp8")], [], NODES) == "p8"
    # fewer GPUs, then name
    assert chosen(IMG, [tpl("x2", count=2), tpl("x1", count=1)], [], NODES) == "x1"
    assert chosen(IMG, [tpl("b"), tpl("a")], [], NODES) == "a"
    # exact override matches first, even before scope
    ns2 = [tpl("n")]
    cl = [tpl("c", metric="latency", namespace=None)]
    assert chosen(IMG, ns2, cl, NODES, overrides={"metric": "latency"}) == "c"


def test_the_reason_says_why_this_one() -> None:
    choice = choose_template(IMG, [tpl("a", model="MI300X"), tpl("b", model="MI325X")], [], NODES)
    assert 'AIMServiceTemplate "b" (1x MI325X)' in choice.reason
    assert 'its GPU ranks higher than "a"' in choice.reason
    single = choose_template(IMG, [tpl("a")], [], NODES)
    assert "it is the only usable candidate" in single.reason


# -- stability ------------------------------------------------------------------------------------------


def test_the_earlier_choice_is_kept_while_usable() -> None:
    ns = [tpl("a", model="MI300X")]
    first = choose_template(IMG, ns, [], NODES)
    assert first.chosen is not None and first.chosen.name == "a" and not first.kept
    better = [*ns, tpl("b", model="MI325X")]
    again = choose_template(IMG, better, [], NODES, current=("a", NAMESPACE))
    assert again.chosen is not None and again.chosen.name == "a" and again.kept
    # rediscovering: still usable
    assert chosen(IMG, [tpl("a", status="Progressing"), better[1]], [], NODES, current=("a", NAMESPACE)) == "a"
    # cordoned: still kept (the running service is not moved)
    cordoned = [gpu_node("AMD_Instinct_MI300X_OAM", cordoned=True)]
    assert chosen(IMG, ns, [], cordoned, current=("a", NAMESPACE)) == "a"
    # Degraded, Failed or gone: chosen again
    assert chosen(IMG, [tpl("a", status="Degraded"), better[1]], [], NODES, current=("a", NAMESPACE)) == "b"
    assert chosen(IMG, [tpl("a", status="Failed"), better[1]], [], NODES, current=("a", NAMESPACE)) == "b"
    assert chosen(IMG, better[1:], [], NODES, current=("a", NAMESPACE)) == "b"
    # the same name at the other scope is another template
    assert chosen(IMG, better, [], NODES, current=("a", CLUSTER)) == "b"


def test_a_derived_choice_is_kept_by_its_derived_name() -> None:
    overrides = {"precision": "fp8"}
    ns = [tpl("a", model="MI300X"), tpl("b", model="MI325X")]
    current = (derived_name("a", overrides), NAMESPACE)
    assert chosen(IMG, ns, [], NODES, overrides=overrides, current=current) == "a"
    assert chosen(IMG, ns, [], NODES, overrides=overrides) == "b"


# -- no candidate ---------------------------------------------------------------------------------------


def test_no_candidate_lists_what_was_considered_bounded() -> None:
    ns = [tpl(f"t{i:02}", model="MI355X") for i in range(20)]
    choice = choose_template(IMG, ns, [], NODES)
    assert choice.chosen is None and len(choice.rejections) == 20
    message = no_candidate_message(IMG, choice)
    assert 'AIMServiceTemplate "t00": no schedulable node offers 1x MI355X' in message
    assert "and 12 more" in message and '"t08"' not in message
    assert len(message) < 1200
    empty = no_candidate_message(IMG, choose_template(IMG, [], [], NODES))
    assert 'no AIMClusterServiceTemplate with aimImageName "llama"' in empty


# -- properties -----------------------------------------------------------------------------------------

_TEMPLATES = st.lists(
    st.builds(
        tpl,
        name=st.sampled_from([f"t{i}" for i in range(8)]),
        model=st.sampled_from([None, "MI300X", "MI325X", "MI355X", "MI210"]),
        count=st.integers(1, 8),
        metric=st.sampled_from([None, "latency", "throughput"]),
        precision=st.sampled_from([None, "fp8", "fp16", "bf16"]),
        status=st.sampled_from(["Available", "Available", "Pending", "Degraded"]),
    ),
    max_size=8,
    unique_by=lambda t: t["metadata"]["name"],
)
_OVERRIDES = st.sampled_from([None, {}, {"metric": "latency"}, {"precision": "fp8"}])


@settings(max_examples=200, deadline=None)
@given(_TEMPLATES, _TEMPLATES, _OVERRIDES, st.randoms(use_true_random=False))
def test_deterministic_whatever_the_order(
    ns: list[dict[str, Any]], cl: list[dict[str, Any]], overrides: Any, rnd: Any
) -> None:
    cl = [{**t, "metadata": {"name": t["metadata"]["name"]}} for t in cl]
    a = choose_template(IMG, ns, cl, NODES, overrides=overrides)
    ns2, cl2, nodes2 = list(ns), list(cl), list(NODES)
    rnd.shuffle(ns2)
    rnd.shuffle(cl2)
    rnd.shuffle(nodes2)
    b = choose_template(IMG, ns2, cl2, nodes2, overrides=overrides)
    assert (a.chosen and (a.chosen.name, a.chosen.scope)) == (b.chosen and (b.chosen.name, b.chosen.scope))
    assert a.reason == b.reason


@settings(max_examples=200, deadline=None)
@given(_TEMPLATES, _TEMPLATES, _OVERRIDES)
def test_stable_when_more_templates_become_available(
    before: list[dict[str, Any]], extra: list[dict[str, Any]], overrides: Any
) -> None:
    first = choose_template(IMG, before, [], NODES, overrides=overrides)
    if first.chosen is None:
        return
    name = first.chosen.name
    current = (derived_name(name, overrides) if overrides is not None else name, NAMESPACE)
    names = {t["metadata"]["name"] for t in before}
    added = [t for t in extra if t["metadata"]["name"] not in names]
    later = choose_template(IMG, before + added, [], NODES, overrides=overrides, current=current)
    assert later.chosen is not None and later.chosen.name == name and later.kept


# -- resolution -----------------------------------------------------------------------------------------


class Store(dict[str, Any]):
    pass


def service(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "svc", "namespace": "ns", "uid": "u1"}, "spec": {"aimImageName": IMG, **spec}}


def test_resolution_uses_the_choice_only_without_ref_and_default() -> None:
    a, b = tpl("a"), tpl("b", model="MI325X")
    templates = Store({"ns/a": a, "ns/b": b})
    res = resolve_service_template(service(), Store(), Store(), templates, Store(), [a, b], [], nodes=NODES)
    assert res.final_name == "b" and res.scope == "Namespace" and res.choice is not None
    # without nodes: no automatic choice (the old behaviour)
    assert resolve_service_template(service(), Store(), Store(), templates, Store(), [a, b], []).template is None
    # a templateRef wins; an image default wins
    res = resolve_service_template(service(templateRef="a"), Store(), Store(), templates, Store(), [a, b], [], NODES)
    assert res.final_name == "a" and res.choice is None
    images = Store({"ns/llama": {"spec": {"defaultServiceTemplate": "a"}}})
    res = resolve_service_template(service(), images, Store(), templates, Store(), [a, b], [], nodes=NODES)
    assert res.final_name == "a" and res.choice is None


def test_resolution_builds_the_derived_template_on_the_chosen_base() -> None:
    c = tpl("c", model="MI325X", namespace=None)
    res = resolve_service_template(
        service(overrides={"precision": "fp8"}), Store(), Store(), Store(), Store({"c": c}), [], [c], nodes=NODES
    )
    assert res.create and res.base_name == "c" and res.final_name == derived_name("c", {"precision": "fp8"})
    assert res.expected_spec is not None and res.expected_spec["precision"] == "fp8"
    assert res.expected_spec["gpuSelector"] == {"model": "MI325X", "count": 1}


def test_resolution_without_candidate_carries_the_rejections() -> None:
    p = tpl("p", status="Pending")
    res = resolve_service_template(service(), Store(), Store(), Store({"ns/p": p}), Store(), [p], [], nodes=NODES)
    assert res.template is None and res.choice is not None and res.choice.waiting and not res.base_error
