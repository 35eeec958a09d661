"""Naming must be bit-exact with the original operator (reference §1.3, §4.4, §5.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aimctl import naming


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Llama_3.1 8B", "llama-3.1-8b"),
        ("--a..b--", "a-b"),
        ("a.-b", "a-b"),
        ("x" * 70, "x" * 63),
        ("a" * 62 + "-b", "a" * 62),
        ("ÄÖ!", ""),
    ],
)
def test_rfc1123(raw: str, expected: str) -> None:
    assert naming.rfc1123(raw) == expected


@given(st.text())
def test_rfc1123_output_is_always_a_valid_prefix_of_a_dns_label(raw: str) -> None:
    out = naming.rfc1123(raw)
    assert len(out) <= 63
    assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-." for c in out)
    assert not out.startswith(("-", "."))
    assert not out.endswith("-")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("meta-llama/Llama-3.1-8B", "meta-llama_Llama-3.1-8B"), ("__", "unknown"), ("ok", "ok"), ("a" * 70, "a" * 63)],
)
def test_label_value(raw: str, expected: str) -> None:
    assert naming.label_value(raw) == expected


def test_discovery_job_name_matches_the_reference_example() -> None:
    name = naming.discovery_job_name("default-testing-llama-3-8b", "default-testing-llama-3-8b", "aimdummy:dev-latest")
    assert name == "discover-default-testing-llama-3-8b-8eecaf75"


def test_discovery_job_names_of_long_sibling_templates_differ() -> None:
    image = "meta-llama-llama-3-1-8b-instruct-0-8-4"
    uri = "amdenterpriseai/aim-meta-llama-llama-3-1-8b-instruct:0.8.4"
    latency = naming.discovery_job_name(f"{image}-mi300x-x1-latency-fp8", image, uri)
    throughput = naming.discovery_job_name(f"{image}-mi300x-x1-throughput-fp8", image, uri)
    assert latency != throughput
    assert latency.startswith(f"discover-{image}-mi300x-")
    assert len(latency) <= 63


@pytest.mark.parametrize(
    ("overrides", "digest"),
    [
        ({"metric": "throughput", "precision": "fp8"}, "5ab7d1be"),
        ({"metric": "throughput", "precision": "fp16", "gpuSelector": {"count": 1, "model": "MI300X"}}, "2ece18e2"),
        ({}, "44136fa3"),
    ],
)
def test_derived_template_name_matches_the_reference_hashes(overrides: dict[str, object], digest: str) -> None:
    assert naming.derived_template_name("base", overrides) == f"base-ovr-{digest}"


def test_derived_template_name_cuts_the_base_to_fit_63_characters() -> None:
    name = naming.derived_template_name("b" * 49 + "-xyz", {})
    assert name == "b" * 49 + "-ovr-44136fa3"
    assert len(name) <= 63


def test_auto_template_name_matches_the_reference_example() -> None:
    got = naming.auto_template_name("llama-3-8b-cluster-with-image", "MI300X", 1, "latency", "fp8")
    assert got == "llama-3-8b-cluster-with-image-mi300x-x1-latency-fp8"
    assert naming.auto_template_name("img", "MI300X", 0, "", "fp8") == "img-mi300x-fp8"


# -- InferenceService names (KServe v0.16.0 rules, docs/long-names.md) -------------------------------


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        ("llama", "default"),
        ("a" * 53, "ns"),  # <isvc>-predictor = 63, <isvc>-predictor-ns = 66: too long
        ("a" * 45, "default"),  # a-predictor-default = 63
        ("x" * 42, "a" * 10),
    ],
)
def test_names_kserve_can_serve_are_kept(name: str, namespace: str) -> None:
    fits = len(f"{name}-predictor-{namespace}") <= 63
    assert naming.isvc_name_fits(name, namespace) is fits
    if fits:
        assert naming.inference_service_name(name, namespace) == name


def test_limits_follow_kserve_rules() -> None:
    assert naming.isvc_name_limit("default") == 63 - len("-predictor-default") == 45
    assert naming.isvc_name_limit("n") == 51
    assert naming.isvc_name_limit("") == 52
    assert naming.isvc_name_limit("n" * 52) == 0
    assert naming.isvc_name_limit("n" * 53) == -1
    # A template that keeps name and namespace in separate labels: only <isvc>-predictor <= 63 counts.
    separate = "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"
    assert naming.isvc_name_limit("n" * 63, separate) == 53
    assert naming.predictor_host("svc", "ns") == "svc-predictor-ns.example.com"


def test_a_63_character_name_is_shortened_deterministically() -> None:
    name = "m" * 63
    short = naming.inference_service_name(name, "aim-e2e")
    assert short == naming.inference_service_name(name, "aim-e2e")
    assert len(short) == naming.isvc_name_limit("aim-e2e")
    assert len(f"{short}-predictor-aim-e2e") == 63
    assert short == "m" * (len(short) - 9) + "-" + naming.sha256_hex(name)


def test_names_sharing_a_60_character_prefix_get_distinct_forms() -> None:
    prefix = "p" * 60
    a, b = (naming.inference_service_name(prefix + s, "ns") for s in ("-aa", "-bb"))
    assert a != b and a[:10] == b[:10]


@given(st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", fullmatch=True), st.from_regex(r"[a-z0-9]{1,42}",
       fullmatch=True))  # fmt: skip
def test_every_service_name_gets_a_name_kserve_can_serve(name: str, namespace: str) -> None:
    out = naming.inference_service_name(name, namespace)
    assert naming.isvc_name_fits(out, namespace), out
    assert (out == name) == naming.isvc_name_fits(name, namespace)


def test_no_name_fits_a_very_long_namespace() -> None:
    namespace = "n" * 50
    assert naming.inference_service_name("a", namespace) == "a"  # short enough as it is
    with pytest.raises(naming.IsvcNameError) as err:
        naming.inference_service_name("b" * 30, namespace)
    message = str(err.value)
    assert "<name>-predictor-<namespace>" in message and "63" in message
    assert "at most 42 characters" in message and "domainTemplate" in message
