"""Model-cache builders: the PVC, the download Job, the template cache's model caches, lastUsed."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from aimctl.builders.download_job import (
    DOWNLOAD_SCRIPT,
    GENERATION_ANNOTATION,
    PVC_UID_ANNOTATION,
    build_download_job,
    download_env,
    job_generation,
    job_pvc_uid,
)
from aimctl.builders.model_cache_pvc import build_model_cache_pvc, canonical_size, effective_storage_class
from aimctl.builders.model_cache_usage import last_used_status
from aimctl.builders.model_caches_for_template import (
    MAX_NAME,
    ModelSource,
    build_model_caches,
    model_cache_names,
    model_sources,
)
from aimctl.builders.ownership import controller_reference

CACHE: dict[str, Any] = {
    "apiVersion": "aim.silogen.ai/v1alpha1",
    "kind": "AIMModelCache",
    "metadata": {"name": "mc", "namespace": "ns", "uid": "uid-mc", "generation": 3},
    "spec": {
        "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M",
        "size": "0.5Gi",
        "modelDownloadImage": "kserve/storage-initializer:v0.16.0-rc0",
        "env": [
            {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            {"name": "HF_HOME", "value": "/elsewhere"},
        ],
        "imagePullSecrets": [{"name": "regcred"}],
    },
}

OWNER = {
    "apiVersion": "aim.silogen.ai/v1alpha1",
    "kind": "AIMModelCache",
    "name": "mc",
    "uid": "uid-mc",
    "controller": True,
    "blockOwnerDeletion": True,
}


def test_controller_reference_is_complete_or_refused() -> None:
    assert controller_reference(CACHE) == OWNER
    with pytest.raises(ValueError, match="uid"):
        controller_reference({"apiVersion": "v1", "kind": "X", "metadata": {"name": "x"}})


def test_storage_class_precedence() -> None:
    assert effective_storage_class("own", "rc") == "own"
    assert effective_storage_class(None, "rc") == "rc"
    assert effective_storage_class("", None) is None


def test_pvc_matches_the_reference() -> None:
    pvc = build_model_cache_pvc(CACHE, "sim-immediate")
    assert pvc["metadata"] == {
        "name": "mc-cache",
        "namespace": "ns",
        "labels": {"app.kubernetes.io/managed-by": "modelcache-controller", "aim.silogen.ai/modelcache": "mc"},
        "ownerReferences": [OWNER],
    }
    assert pvc["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "512Mi"}},
        "storageClassName": "sim-immediate",
    }
    assert "storageClassName" not in build_model_cache_pvc(CACHE, None)["spec"]


@pytest.mark.parametrize(("size", "canonical"), [("280Mi", "280Mi"), ("0.5Gi", "512Mi"), (1073741824, "1073741824")])
def test_sizes_are_canonical(size: Any, canonical: str) -> None:
    assert canonical_size(size) == canonical


def test_download_job_matches_the_reference() -> None:
    job = build_download_job(CACHE, "pvc-uid")
    meta = job["metadata"]
    assert meta["name"] == "mc-cache-download"
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "modelcache-controller",
        "aim.silogen.ai/modelcache": "mc",
    }
    assert meta["ownerReferences"] == [OWNER]
    assert meta["annotations"] == {GENERATION_ANNOTATION: "3", PVC_UID_ANNOTATION: "pvc-uid"}
    assert job_generation(job) == 3
    assert job_pvc_uid(job) == "pvc-uid"
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (2, 600)
    assert "activeDeadlineSeconds" not in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"] == 1000
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["volumes"] == [
        {"name": "cache", "persistentVolumeClaim": {"claimName": "mc-cache"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "500Mi"}},
    ]
    (c,) = pod["containers"]
    assert c["name"] == "model-download"
    assert (c["image"], c["imagePullPolicy"]) == ("kserve/storage-initializer:v0.16.0-rc0", "IfNotPresent")
    assert c["command"][:2] == ["/bin/sh", "-c"]
    assert c["args"] == ["model-download", "hf://HuggingFaceTB/SmolLM2-135M", "/cache"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["volumeMounts"] == [{"name": "cache", "mountPath": "/cache"}, {"name": "tmp", "mountPath": "/tmp"}]
    assert [e["name"] for e in c["env"]] == ["HF_TOKEN", "HF_HUB_DISABLE_XET", "HF_HOME", "UMASK"]
    assert c["env"][0] == CACHE["spec"]["env"][0]  # secretKeyRef passed through untouched
    assert {"name": "HF_HOME", "value": "/cache/.hf"} in c["env"]


def test_job_without_annotations_reads_as_unknown() -> None:
    assert job_generation({"metadata": {}}) is None
    assert job_pvc_uid({"metadata": {"annotations": {GENERATION_ANNOTATION: "x"}}}) is None
    assert job_generation({"metadata": {"annotations": {GENERATION_ANNOTATION: "x"}}}) is None


def test_default_image_and_no_pull_secrets() -> None:
    cache = {**CACHE, "spec": {"sourceUri": "s3://bucket/model", "size": "1Gi"}}
    job = build_download_job(cache)
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "kserve/storage-initializer:v0.16.0-rc0"
    assert "imagePullSecrets" not in pod
    assert PVC_UID_ANNOTATION not in job["metadata"]["annotations"]
    assert download_env(None) == [
        {"name": "HF_HUB_DISABLE_XET", "value": "1"},
        {"name": "HF_HOME", "value": "/cache/.hf"},
        {"name": "UMASK", "value": "0022"},
    ]


def test_download_script_takes_the_uri_as_an_argument_and_keeps_the_exit_code(tmp_path: Any) -> None:
    """The script is real shell: run it with a fake initializer to prove the URI is never evaluated."""
    fake = tmp_path / "init"
    fake.write_text('#!/bin/sh\necho "$1" > "$2/uri"\nexit 3\n')
    fake.chmod(0o755)
    script = DOWNLOAD_SCRIPT.replace("/storage-initializer/scripts/initializer-entrypoint", str(fake))
    uri = "hf://org/model;touch${IFS}pwned$(touch pwned2)"
    proc = subprocess.run(
        ["/bin/sh", "-c", script, "model-download", uri, str(tmp_path)], cwd=tmp_path, capture_output=True
    )
    assert proc.returncode == 3
    assert (tmp_path / "uri").read_text().strip() == uri
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "pwned2").exists()


def test_model_sources_are_deduplicated_and_sizes_canonical() -> None:
    raw = [
        {"name": "a", "sourceUri": "hf://x/a", "size": "0.5Gi"},
        {"name": "dup", "sourceUri": "hf://x/a", "size": "1Gi"},
        {"name": "b", "sourceUri": "hf://x/b"},
        {"name": "c", "sourceUri": "hf://x/c", "size": "garbage"},
        {"name": "d", "sourceUri": "hf://x/d", "size": "0"},
        {"name": "nouri"},
    ]
    assert model_sources(raw) == (
        ModelSource("a", "hf://x/a", "512Mi"),
        ModelSource("b", "hf://x/b", None),
        ModelSource("c", "hf://x/c", None),
        ModelSource("d", "hf://x/d", None),
    )
    assert model_sources(None) == ()


def test_model_cache_names_are_deterministic_short_and_unique() -> None:
    sources = [
        ModelSource("smol2-135m", "hf://HuggingFaceTB/SmolLM2-135M", "512Mi"),
        ModelSource("Llama.3_1", "hf://meta/llama", "1Gi"),
        ModelSource("", "s3://bucket/models/qwen2.5/", "1Gi"),
    ]
    names = model_cache_names("tc", sources)
    assert names == {
        "hf://HuggingFaceTB/SmolLM2-135M": "tc-smol2-135m",
        "hf://meta/llama": "tc-llama-3-1",
        "s3://bucket/models/qwen2.5/": "tc-qwen2-5",
    }
    assert model_cache_names("tc", list(reversed(sources))) == names
    # collisions and long names get a hash of the URI; all stay within MAX_NAME
    clash = [ModelSource("m", "hf://a/m", "1Gi"), ModelSource("M", "hf://b/m", "1Gi")]
    clashed = model_cache_names("tc", clash)
    assert len(set(clashed.values())) == 2
    assert all(n.startswith("tc-m-") and len(n) == len("tc-m-") + 8 for n in clashed.values())
    long = model_cache_names("t" * 60, [ModelSource("model", "hf://a/b", "1Gi")])
    (name,) = long.values()
    assert len(name) <= MAX_NAME
    assert name == model_cache_names("t" * 60, [ModelSource("model", "hf://a/b", "1Gi")])["hf://a/b"]


def test_model_caches_for_a_template_cache() -> None:
    tc = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMTemplateCache",
        "metadata": {"name": "tc", "namespace": "ns", "uid": "uid-tc"},
        "spec": {
            "templateRef": "tpl",
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}],
            "imagePullSecrets": [{"name": "regcred"}],
        },
    }
    sources = (
        ModelSource("b", "hf://x/b", "1Gi"),
        ModelSource("a", "hf://x/a", "512Mi"),
        ModelSource("c", "hf://x/c", None),
    )
    caches = build_model_caches(tc, "tpl", sources, "fast")
    assert [c["metadata"]["name"] for c in caches] == ["tc-a", "tc-b"]  # sorted; sizeless skipped
    a = caches[0]
    assert a["kind"] == "AIMModelCache"
    assert a["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "aim-controller",
        "aim.silogen.ai/templatecache": "tc",
        "aim.silogen.ai/template": "tpl",
    }
    assert a["metadata"]["ownerReferences"][0]["uid"] == "uid-tc"
    assert a["metadata"]["ownerReferences"][0]["controller"] is True
    assert a["spec"] == {
        "sourceUri": "hf://x/a",
        "size": "512Mi",
        "storageClassName": "fast",
        "env": tc["spec"]["env"],
        "imagePullSecrets": [{"name": "regcred"}],
    }
    bare = build_model_caches({**tc, "spec": {"templateRef": "tpl"}}, "tpl", sources[:1], None)
    assert bare[0]["spec"] == {"sourceUri": "hf://x/b", "size": "1Gi"}


def test_last_used_moves_forward_only() -> None:
    assert last_used_status({}, "2026-01-01T00:00:00Z") == {"lastUsed": "2026-01-01T00:00:00Z"}
    cache = {"status": {"lastUsed": "2026-01-02T00:00:00Z"}}
    assert last_used_status(cache, "2026-01-01T00:00:00Z") is None
    assert last_used_status(cache, "2026-01-02T00:00:00Z") is None
    assert last_used_status(cache, "2026-01-03T00:00:00Z") == {"lastUsed": "2026-01-03T00:00:00Z"}
