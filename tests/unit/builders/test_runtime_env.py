"""The runtime env: what the operator prepared, merged with the stated precedence."""

from __future__ import annotations

import json
from typing import Any

from aimctl.builders.runtime_env import (
    cache_mount_path,
    cache_root,
    deep_merge,
    merge_env,
    prepared_env,
    runtime_env,
)

PROFILE: dict[str, Any] = {
    "id": "vllm-mi300x-fp8-tp1-latency",
    "metadata": {"metric": "throughput", "precision": "fp16", "gpu_count": 1},
    "engine_args": {"max-model-len": 2048, "compilation": {"level": 3, "cudagraph": True}},
}


def env_map(env: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in env}


def test_prepared_env_takes_the_template_then_the_profile() -> None:
    env = prepared_env({"metric": "latency"}, PROFILE)
    assert [e["name"] for e in env] == [
        "AIM_METRIC", "AIM_PRECISION", "AIM_PROFILE_ID", "AIM_ENGINE_ARGS", "AIM_CACHE_PATH"
    ]  # fmt: skip
    values = env_map(env)
    assert values["AIM_METRIC"] == "latency"  # the template's, not the profile's
    assert values["AIM_PRECISION"] == "fp16"  # the profile's: the template has none
    assert values["AIM_PROFILE_ID"] == "vllm-mi300x-fp8-tp1-latency"
    assert json.loads(values["AIM_ENGINE_ARGS"]) == PROFILE["engine_args"]
    assert values["AIM_ENGINE_ARGS"] == '{"compilation":{"cudagraph":true,"level":3},"max-model-len":2048}'
    assert values["AIM_CACHE_PATH"] == "/workspace/cache"


def test_prepared_env_without_a_profile_sets_only_what_is_known() -> None:
    assert prepared_env({}, None) == [{"name": "AIM_CACHE_PATH", "value": "/workspace/cache"}]
    assert env_map(prepared_env({"precision": "fp8"}, {"engine_args": {}})) == {
        "AIM_PRECISION": "fp8",
        "AIM_CACHE_PATH": "/workspace/cache",
    }


def test_precedence_service_over_template_over_prepared_over_runtime_config() -> None:
    rc = [{"name": "A", "value": "rc"}, {"name": "B", "value": "rc"}, {"name": "AIM_METRIC", "value": "rc"},
          {"name": "RC_ONLY", "value": "rc"}]  # fmt: skip
    tpl = [{"name": "A", "value": "tpl"}, {"name": "AIM_PRECISION", "value": "bf16"}, {"name": "T", "value": "tpl"}]
    svc = [{"name": "A", "value": "svc"}, {"name": "AIM_METRIC", "value": "throughput"}]
    env = env_map(runtime_env(svc, tpl, {"metric": "latency", "precision": "fp8"}, None, rc))
    assert env["A"] == "svc"
    assert env["B"] == "rc"
    assert env["RC_ONLY"] == "rc"
    assert env["T"] == "tpl"
    assert env["AIM_METRIC"] == "throughput"  # service over prepared over runtime config
    assert env["AIM_PRECISION"] == "bf16"  # template over prepared


def test_prepared_values_beat_the_runtime_config() -> None:
    env = env_map(runtime_env([], [], {"metric": "latency"}, None, [{"name": "AIM_METRIC", "value": "throughput"}]))
    assert env["AIM_METRIC"] == "latency"


def test_engine_args_are_deep_merged_across_layers() -> None:
    svc = [{"name": "AIM_ENGINE_ARGS", "value": '{"max-model-len": 4096, "compilation": {"level": 1}}'}]
    tpl = [{"name": "AIM_ENGINE_ARGS", "value": '{"swap-space": 8}'}]
    env = env_map(runtime_env(svc, tpl, {}, PROFILE))
    assert json.loads(env["AIM_ENGINE_ARGS"]) == {
        "max-model-len": 4096,
        "compilation": {"level": 1, "cudagraph": True},
        "swap-space": 8,
    }


def test_engine_args_that_are_not_an_object_replace() -> None:
    svc = [{"name": "AIM_ENGINE_ARGS", "value": "--max-model-len 4096"}]
    assert env_map(runtime_env(svc, [], {}, PROFILE))["AIM_ENGINE_ARGS"] == "--max-model-len 4096"
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    from_secret = [{"name": "AIM_ENGINE_ARGS", "valueFrom": ref}]
    assert {"name": "AIM_ENGINE_ARGS", "valueFrom": ref} in runtime_env(from_secret, [], {}, PROFILE)


def test_a_higher_layer_replaces_the_whole_entry() -> None:
    ref = {"secretKeyRef": {"name": "s", "key": "k"}}
    merged = merge_env([[{"name": "X", "valueFrom": ref}], [{"name": "X", "value": "plain"}]])
    assert merged == [{"name": "X", "value": "plain"}]


def test_order_is_stable_and_first_appearance_wins_the_position() -> None:
    merged = merge_env([[{"name": "A", "value": "1"}, {"name": "B", "value": "1"}], [{"name": "A", "value": "2"}]])
    assert merged == [{"name": "A", "value": "2"}, {"name": "B", "value": "1"}]


def test_inputs_are_not_mutated() -> None:
    svc = [{"name": "AIM_ENGINE_ARGS", "value": '{"a": 1}'}]
    profile = {"engine_args": {"b": {"c": 1}}}
    runtime_env(svc, [], {}, profile)
    assert svc == [{"name": "AIM_ENGINE_ARGS", "value": '{"a": 1}'}]
    assert profile == {"engine_args": {"b": {"c": 1}}}
    low = {"x": {"y": 1}}
    deep_merge(low, {"x": {"z": 2}})
    assert low == {"x": {"y": 1}}


def test_cache_paths() -> None:
    assert cache_root(runtime_env([], [], {}, None)) == "/workspace/cache"
    assert cache_root([{"name": "AIM_CACHE_PATH", "value": "/models/"}]) == "/models"
    assert cache_root([{"name": "AIM_CACHE_PATH", "valueFrom": {"x": 1}}]) == "/workspace/cache"
    assert cache_mount_path("/workspace/cache", "meta-llama/Llama-3.1-8B") == "/workspace/cache/meta-llama/Llama-3.1-8B"
    assert cache_mount_path("/workspace/cache", "../../etc//x/.") == "/workspace/cache/etc/x"
    assert cache_mount_path("/workspace/cache", "") == "/workspace/cache"
