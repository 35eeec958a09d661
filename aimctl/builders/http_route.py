"""The Gateway API HTTPRoute of an AIMService (pure).

``gateway.networking.k8s.io/v1`` HTTPRoute named and namespaced like the service, controlled by it
(``reference/original-operator-behaviour.md`` §6.3):

* labels ``app.kubernetes.io/name=aim-service``, ``app.kubernetes.io/component=inference-service``,
  ``app.kubernetes.io/managed-by=aim-controller``, ``aim.silogen.ai/template`` and
  ``aim.silogen.ai/model-id`` (values sanitised); annotations = the service's ``routing.annotations``;
* one parentRef: the effective gatewayRef with group, kind and namespace defaulted;
* one rule: ``PathPrefix`` = the rendered path, a ``URLRewrite`` filter replacing the prefix with
  ``/``, and the KServe predictor Service ``<service>-predictor`` on port 80 as the backend.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aimctl import labels
from aimctl.builders.ownership import controller_reference
from aimctl.naming import label_value

API_VERSION = "gateway.networking.k8s.io/v1"
KIND = "HTTPRoute"
PREDICTOR_PORT = 80


def predictor_service_name(service_name: str) -> str:
    """KServe's name for the predictor Service of an InferenceService."""
    return f"{service_name}-predictor"


def build_http_route(
    service: Mapping[str, Any],
    path: str,
    parent_ref: Mapping[str, Any],
    template_name: str,
    model_id: str,
    annotations: Mapping[str, str] | None = None,
    isvc_name: str = "",
) -> dict[str, Any]:
    """The desired HTTPRoute of ``service`` (raw AIMService, with ``metadata.uid``); its backend is the
    predictor Service of InferenceService ``isvc_name`` ("" = the service's name)."""
    meta = service["metadata"]
    metadata: dict[str, Any] = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": {
            labels.NAME: labels.NAME_SERVICE,
            labels.COMPONENT: labels.COMPONENT_SERVICE,
            labels.MANAGED_BY: labels.MANAGER_AIM,
            labels.TEMPLATE: label_value(template_name),
            labels.MODEL_ID: label_value(model_id),
        },
        "ownerReferences": [controller_reference(service)],
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": path}}],
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
            }
        ],
        "backendRefs": [
            {
                "group": "",
                "kind": "Service",
                "name": predictor_service_name(isvc_name or str(meta["name"])),
                "namespace": meta["namespace"],
                "port": PREDICTOR_PORT,
            }
        ],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata,
        "spec": {"parentRefs": [copy.deepcopy(dict(parent_ref))], "rules": [rule]},
    }
