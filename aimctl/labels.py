"""Label and annotation keys and fixed values (``reference/original-operator-behaviour.md`` §1.4)."""

from __future__ import annotations

from typing import Final

NAME: Final = "app.kubernetes.io/name"
COMPONENT: Final = "app.kubernetes.io/component"
MANAGED_BY: Final = "app.kubernetes.io/managed-by"

TEMPLATE: Final = "aim.silogen.ai/template"
MODEL_ID: Final = "aim.silogen.ai/model-id"
AIM_IMAGE: Final = "aim.silogen.ai/aim-image"
AUTO_GENERATED: Final = "aim.silogen.ai/auto-generated"
DERIVED_TEMPLATE: Final = "aim.silogen.ai/derived-template"
TEMPLATE_METRIC: Final = "aim.silogen.ai/template.metric"
TEMPLATE_PRECISION: Final = "aim.silogen.ai/template.precision"
MODEL_CACHE: Final = "aim.silogen.ai/modelcache"
TEMPLATE_CACHE: Final = "aim.silogen.ai/templatecache"
JOB_NAME: Final = "job-name"
#: On an InferenceService whose name is a shortened form of its AIMService's: the service's name.
SERVICE: Final = "aim.silogen.ai/service"

MANAGER_AIM: Final = "aim-controller"
MANAGER_MODEL_CACHE: Final = "modelcache-controller"

NAME_RUNTIME: Final = "aim-runtime"
NAME_DISCOVERY: Final = "aim-discovery"
NAME_SERVICE: Final = "aim-service"
COMPONENT_RUNTIME: Final = "serving-runtime"
COMPONENT_DISCOVERY: Final = "discovery-job"
COMPONENT_SERVICE: Final = "inference-service"

#: Environment variable naming the operator's namespace (cluster-scoped work runs there).
OPERATOR_NAMESPACE_ENV: Final = "AIM_OPERATOR_NAMESPACE"
DEFAULT_OPERATOR_NAMESPACE: Final = "aim-system"
