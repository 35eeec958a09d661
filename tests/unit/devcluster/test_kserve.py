"""KServe in the local cluster: the generated build module, the ConfigMap changes, webhooks by URL."""

from __future__ import annotations

import base64
import json

import pytest

from aimctl.devcluster.kserve import (
    CONFIG_CHANGES,
    KServeError,
    apply_config_changes,
    kserve_build_gomod,
    module_directives,
    webhooks_by_url,
)

GOMOD = """module github.com/kserve/kserve

go 1.24.1

require (
\tk8s.io/api v0.33.1
)

// A comment with replace x => y in it is not a directive.
exclude google.golang.org/grpc/stats/opentelemetry v0.0.0-00010101000000-000000000000

replace sigs.k8s.io/controller-runtime => sigs.k8s.io/controller-runtime v0.19.7

replace (
\texample.com/a => example.com/a v1.2.3
\texample.com/b v1.0.0 => example.com/c v1.1.0
)
"""


def test_build_module_requires_kserve_and_repeats_its_replace_and_exclude_directives() -> None:
    out = kserve_build_gomod(GOMOD, "v0.16.0")
    assert out.startswith("module aimctl.local/kservebuild\n\ngo 1.24.1\n\nrequire github.com/kserve/kserve v0.16.0\n")
    assert module_directives(GOMOD) == [
        "replace example.com/a => example.com/a v1.2.3",
        "replace example.com/b v1.0.0 => example.com/c v1.1.0",
        "exclude google.golang.org/grpc/stats/opentelemetry v0.0.0-00010101000000-000000000000",
        "replace sigs.k8s.io/controller-runtime => sigs.k8s.io/controller-runtime v0.19.7",
    ]
    for d in module_directives(GOMOD):
        assert d in out
    assert "x => y" not in out


def test_a_local_path_replace_cannot_be_repeated_and_says_so() -> None:
    with pytest.raises(KServeError, match="local path"):
        module_directives("module m\n\nreplace example.com/a => ./staging/a\n")


def test_config_changes_only_the_deployment_mode_and_explains_it() -> None:
    default = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "inferenceservice-config", "namespace": "kserve"},
        "data": {
            "deploy": '{\n  "defaultDeploymentMode": "Serverless"\n}',
            "ingress": '{"ingressDomain": "example.com"}',
        },
    }
    out = apply_config_changes(default)
    assert json.loads(out["data"]["deploy"]) == {"defaultDeploymentMode": "Standard"}
    assert out["data"]["ingress"] == default["data"]["ingress"]
    notes = json.loads(out["metadata"]["annotations"]["aimctl.dev/changed-from-kserve-defaults"])
    assert set(notes) == set(CONFIG_CHANGES) == {"deploy"}
    assert "Knative" in notes["deploy"]
    assert json.loads(default["data"]["deploy"]) == {"defaultDeploymentMode": "Serverless"}  # input untouched


def test_webhooks_call_the_local_manager_by_url_with_the_cluster_ca() -> None:
    conf = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "inferenceservice.serving.kserve.io", "creationTimestamp": None},
        "webhooks": [
            {
                "name": "inferenceservice.kserve-webhook-server.validator",
                "clientConfig": {"service": {"name": "$(svc)", "namespace": "$(ns)", "path": "/validate-x"}},
                "failurePolicy": "Fail",
                "rules": [{"apiGroups": ["serving.kserve.io"]}],
            }
        ],
    }
    (out,) = webhooks_by_url([conf, {"kind": "Service"}], 27450, b"PEM")
    hook = out["webhooks"][0]
    assert hook["clientConfig"] == {
        "url": "https://127.0.0.1:27450/validate-x",
        "caBundle": base64.b64encode(b"PEM").decode(),
    }
    assert (hook["failurePolicy"], hook["rules"]) == ("Fail", [{"apiGroups": ["serving.kserve.io"]}])
    assert "creationTimestamp" not in out["metadata"]
    assert "service" in conf["webhooks"][0]["clientConfig"]  # input untouched
