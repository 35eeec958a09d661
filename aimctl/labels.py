"""Label and annotation keys and fixed values, the original operator's (``docs/original-behaviour.md``)."""

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
#: On an AIMServiceTemplate / AIMClusterServiceTemplate: the template controller's memory of
#: discovery (JSON: what the last successful discovery ran with, the failed attempts), which the API
#: status has no field for (see :mod:`statemachines.template`). Owned by the operator; do not edit.
DISCOVERY_STATE: Final = "aim.silogen.ai/discovery-state"
#: On an AIMImage / AIMClusterImage: the image controller's memory of metadata reads (JSON: the URI
#: the stored metadata was read from, the failed attempts and their error; see
#: :mod:`statemachines.image`). Owned by the operator; do not edit.
METADATA_STATE: Final = "aim.silogen.ai/metadata-state"
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
