"""Discovery output parsing: whole-log JSON, noisy logs, failures with excerpts, size quantities."""

from __future__ import annotations

import json

import pytest

from aimctl.discovery.parse import DiscoveryParseError, excerpt, parse_discovery_output, profile_id

RESULT = {
    "filename": "vllm-mi300x-fp8-tp1-latency.yaml",
    "profile": {
        "model": "HuggingFaceTB/SmolLM2-135M",
        "quantized_model": "",
        "metadata": {"engine": "vllm", "gpu": "MI300X", "precision": "fp8", "gpu_count": 1, "metric": "latency"},
        "engine_args": {"tensor-parallel-size": 1, "max-num-seqs": [1, 2], "swap": {"x": True}},
        "env_vars": {"VLLM_USE_V1": "0", "NUM": 3},
    },
    "models": [{"name": "smol2-135m", "source": "hf://HuggingFaceTB/SmolLM2-135M", "size_gb": 0.5}],
}


def test_whole_log_json_maps_profile_and_model_sources() -> None:
    result = parse_discovery_output(json.dumps([RESULT]))
    assert result.profile == {
        "engine_args": {"tensor-parallel-size": 1, "max-num-seqs": [1, 2], "swap": {"x": True}},
        "env_vars": {"VLLM_USE_V1": "0", "NUM": "3"},
        "metadata": {"engine": "vllm", "gpu": "MI300X", "gpu_count": 1, "metric": "latency", "precision": "fp8"},
    }
    assert result.model_sources == [
        {"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}
    ]
    assert result.gpu_count == 1
    assert result.profile_id == "vllm-mi300x-fp8-tp1-latency"


def test_two_models_and_the_first_result_wins() -> None:
    second = dict(RESULT, profile=dict(RESULT["profile"], metadata={"engine": "other"}))  # type: ignore[arg-type]
    first = dict(RESULT, models=[*RESULT["models"], {"name": "draft", "source": "hf://x/draft", "size_gb": 16.07}])  # type: ignore[list-item]
    result = parse_discovery_output(json.dumps([first, second]))
    assert result.profile["metadata"]["engine"] == "vllm"
    assert [m["name"] for m in result.model_sources] == ["smol2-135m", "draft"]
    # int(16.07 * 1024**3) bytes, printed like Kubernetes prints a binary-SI quantity.
    assert result.model_sources[1]["size"] == str(int(16.07 * 1024**3))


@pytest.mark.parametrize(
    "noisy",
    [
        "INFO starting dry run\nWARNING [cache] cold\n{out}\n",
        "{out}\nINFO done [ok]\n",
        "[2024-01-01 00:00:00] loading [model]\n{out}\n[2024-01-01 00:00:01] bye",
        "prefix text {out} trailing text",
    ],
)
def test_noise_around_the_result_array_is_tolerated(noisy: str) -> None:
    out = json.dumps([RESULT], indent=2)
    result = parse_discovery_output(noisy.format(out=out))
    assert result.model_sources[0]["size"] == "512Mi"


def test_the_last_result_array_in_the_log_wins() -> None:
    early = dict(RESULT, models=[{"name": "early", "source": "hf://a/b", "size_gb": 1}])
    text = json.dumps([early]) + "\nretrying\n" + json.dumps([RESULT])
    assert parse_discovery_output(text).model_sources[0]["name"] == "smol2-135m"


def test_sizes_are_binary_quantities() -> None:
    for size_gb, expected in [(0.5, "512Mi"), (1, "1Gi"), (2.25, "2304Mi"), (0, "0")]:
        text = json.dumps([dict(RESULT, models=[{"name": "m", "source": "s", "size_gb": size_gb}])])
        res = parse_discovery_output(text)
        assert res.model_sources[0]["size"] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "discovery output is empty"),
        ("[]", "discovery output contains empty array"),
        ("log line\n[]\n", "discovery output contains empty array"),
        ("Traceback (most recent call last):\n  boom", "no JSON array of discovery results found"),
        ('[{"profile": "not an object"}]', "no JSON array of discovery results found"),
        ('[{"profile": {"metadata": {"metric": "fastest"}}}]', "invalid discovery result: metadata.metric"),
        ('[{"profile": {}, "models": [{"name": "m", "size_gb": "big"}]}]', "size_gb must be a non-negative number"),
    ],
)
def test_unusable_output_is_a_parse_error_with_an_excerpt(text: str, message: str) -> None:
    with pytest.raises(DiscoveryParseError) as info:
        parse_discovery_output(text)
    assert message in info.value.message
    assert info.value.excerpt == excerpt(text)
    assert "output ends with" in str(info.value)


def test_excerpt_keeps_the_tail() -> None:
    text = "x" * 500 + "END"
    assert excerpt(text).endswith("END")
    assert len(excerpt(text)) == 201


# -- issue 11: any malformed output ends in a parse error with a bounded excerpt ------------------------

NESTED_PROFILE = {"metadata": {"engine": "vllm"}, "engine_args": {}}


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("deep array", "[" * 200_000 + "]" * 200_000, "no JSON array of discovery results found"),
        ("deep unterminated", "log\n" + "[" * 200_000, "no JSON array of discovery results found"),
        ("deep inside a result",
         '[{"profile": {"engine_args": ' + '{"x": ' * 5000 + "1" + "}" * 5000 + "}}]",
         "no JSON array of discovery results found"),
        ("moderately deep inside a result",
         json.dumps([{"profile": {**NESTED_PROFILE, "engine_args": _nested(200)}}]), "nested more than"),
        ("huge number", '[{"profile": {}, "models": [{"name": "m", "source": "s", "size_gb": 1e308}]}]', "size_gb"),
        ("infinite number",
         '[{"profile": {}, "models": [{"name": "m", "source": "s", "size_gb": Infinity}]}]', "size_gb"),
        ("models not a list", '[{"profile": {}, "models": "' + "m" * 100_000 + '"}]', "models"),
        ("too many models",
         json.dumps([{"profile": {}, "models": [{"name": f"m{i}", "source": "s"} for i in range(10_000)]}]),
         "models"),
        ("huge profile",
         json.dumps([{"profile": {"env_vars": {f"K{i}": "v" * 100 for i in range(5000)}}}]), "larger than"),
        ("many brackets, each a long failed parse", "[" * 3000 + "1," * 400_000, "no JSON array"),
        ("wrong types", '[{"profile": {"metadata": ["a"], "engine_args": 3, "env_vars": "x"}, "models": [3]}]',
         "model entry is not an object"),
    ],
)  # fmt: skip
def test_malformed_output_is_a_parse_error_never_a_crash(name: str, text: str, message: str) -> None:
    with pytest.raises(DiscoveryParseError) as info:
        parse_discovery_output(text)
    assert message in info.value.message, name
    assert len(str(info.value)) < 1200, "the condition message stays short"


def test_a_result_followed_by_many_bracketed_log_lines_is_found() -> None:
    """Only ``[{`` / ``[]`` can start a result array, so ``[INFO]`` noise does not use up the scan."""
    text = json.dumps([RESULT]) + "\n" + "[INFO] still running\n" * 10_000
    assert parse_discovery_output(text).model_sources[0]["name"] == "smol2-135m"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("vllm-mi300x-fp8-tp1-latency.yaml", "vllm-mi300x-fp8-tp1-latency"),
        ("profiles/general/vllm-mi300x-bf16-tp2-throughput.yml", "vllm-mi300x-bf16-tp2-throughput"),
        ("p.json", "p"),
        ("no_extension.v2", "no_extension.v2"),
        ("", ""),
        (".yaml", ""),
        ("../../etc/passwd", "passwd"),  # only the last segment, never a path
        ("bad id.yaml", ""),  # a space: not a plain id, not passed to the runtime
        ("x" * 254, ""),  # longer than 253 characters
        ("-leading-dash.yaml", ""),
        (None, ""),
        (42, ""),
    ],
)
def test_the_profile_id_is_the_filename_stem_or_nothing(filename: object, expected: str) -> None:
    assert profile_id(filename) == expected
