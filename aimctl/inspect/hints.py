"""What to do about a blocker: one concrete sentence per (kind, reason) (pure).

A hint names the field to change, the object to create or the command to run, with the real names
filled in. Reasons without a specific hint get a generic one that points at the object's conditions
and events. Hints never claim more than the snapshot shows: when nodes could not be read, the GPU
hint says so instead of listing models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aimctl.gpu import DEVICE_IDS, node_gpu_models
from aimctl.inspect.state import FAILED
from aimctl.kube.objects import dig_map, dig_str

if TYPE_CHECKING:
    from aimctl.inspect.tree import Node, Snapshot

KNOWN_MODELS = frozenset(DEVICE_IDS.values())


def _kubectl_ns(node: Node) -> str:
    return f" -n {node.namespace}" if node.namespace else ""


def _short_models(node: Any) -> set[str]:
    """A node's GPU models by their short names (``MI300X``) when its labels give them, else the
    product names as labelled."""
    every = node_gpu_models(node)
    short = {m for m in every if m in KNOWN_MODELS}
    return short or every


def _gpu_hint(node: Node, snap: Snapshot) -> str:
    gpu = dig_map(node.obj, "spec", "gpuSelector")
    model, count = str(gpu.get("model") or "?"), int(gpu.get("count") or 1)
    if snap.nodes is None:
        offered = "the nodes are not readable with these credentials"
    else:
        models = sorted({m for n in snap.nodes for m in _short_models(n)})
        offered = f"nodes offer: {', '.join(models)}" if models else "no node carries AMD GPU labels"
    return (
        f"no node offers {count}x {model}: label a node with amd.com/gpu.product-name={model} and give it "
        f"allocatable amd.com/gpu >= {count} (the AMD GPU operator does both), or choose another template "
        f"({offered}; `aimctl get aimclusterservicetemplates`)"
    )


def _failed_child(node: Node, kind: str) -> Node | None:
    return next((c for c in node.children if c.kind == kind and c.state.health == FAILED), None)


def _runtime_config_hint(node: Node) -> str:
    where = f'in namespace "{node.namespace}"' if node.namespace else "(cluster-scoped)"
    return (
        f"create AIMRuntimeConfig {node.name} {where} or AIMClusterRuntimeConfig {node.name}, or set "
        f"spec.runtimeConfigName of its consumer to an existing one (`aimctl get aimruntimeconfigs -A`)"
    )


def hint_for(node: Node, snap: Snapshot) -> str:
    """The hint for ``node`` (a blocker, or what an object waits on)."""
    reason, kind, ns = node.state.reason, node.kind, _kubectl_ns(node)
    if reason == "Unreadable":
        return f"ask for get/list on {kind} to see this part of the chain"
    if reason == "GPUNotAvailable":
        return _gpu_hint(node, snap)
    if kind in ("AIMRuntimeConfig", "AIMClusterRuntimeConfig") and reason == "NotFound":
        return _runtime_config_hint(node)
    if reason == "RuntimeConfigMissing":
        name = dig_str(node.obj, "spec", "runtimeConfigName", default="default")
        return f"create the runtime config {name!r} or set spec.runtimeConfigName to an existing one"
    if kind in ("AIMImage", "AIMClusterImage") and reason == "NotFound":
        return (
            f"create AIMClusterImage {node.name} (or AIMImage {node.name} in the namespace) for the model's "
            "container image, or fix aimImageName (`aimctl get aimclusterimages`)"
        )
    if reason == "ImageNotFound":
        return "create the image the template names, or fix its spec.aimImageName (`aimctl get aimclusterimages`)"
    if reason == "ImageMismatch":
        return "use a template of the service's image: set spec.templateRef, or fix spec.aimImageName"
    if reason in ("NotFound", "TemplateNotFound") and kind in ("AIMServiceTemplate", "AIMClusterServiceTemplate"):
        return (
            "set spec.templateRef to an existing template (`aimctl get aimservicetemplates,aimclusterservicetemplates"
            "`), or set the image's defaultServiceTemplate"
        )
    if reason == "DownloadFailed" or (kind == "AIMModelCache" and _failed_child(node, "Job")):
        job = _failed_child(node, "Job")
        logs = f"`kubectl logs{ns} job/{job.name}`" if job else "the download Job's logs"
        return (
            f"the model download failed: read {logs}; check spec.sourceUri and the credentials in spec.env "
            f"(e.g. HF_TOKEN), then edit the AIMModelCache spec (or delete it) to try again"
        )
    if reason in ("DiscoveryFailed", "JobFailed", "DiscoveryParseFailed"):
        job = _failed_child(node, "Job")
        logs = f"`kubectl logs -n {job.namespace} job/{job.name}`" if job else "the discovery Job's logs"
        return f"discovery of the image failed: read {logs}; it is retried with backoff, or at once on a spec change"
    if reason in ("ImagePullFailed", "ImagePullBackOff", "ErrImagePull", "InvalidImageName"):
        return "the container image cannot be pulled: check the image reference and imagePullSecrets"
    if reason == "StorageClassNotFound":
        return (
            "create the StorageClass, or set spec.storageClassName / the runtime config's defaultStorageClassName "
            "to one that exists (`kubectl get storageclass`)"
        )
    if reason == "PullSecretMissing":
        return f"create the missing image pull Secret(s){' in ' + node.namespace if node.namespace else ''}"
    if kind == "PersistentVolumeClaim" and node.state.state == "Pending":
        return f"no volume is bound: check the StorageClass's provisioner (`kubectl describe pvc{ns} {node.name}`)"
    if reason in ("PVCLost", "Lost", "PVCNotFound"):
        return (
            "the cache's volume is gone: delete the AIMModelCache (its template cache re-creates it) to download again"
        )
    if reason in ("GatewayRefMissing",) or (reason == "RouteFailed" and "gateway" in node.state.message.lower()):
        return "set spec.routing.gatewayRef on the service, or routing.gatewayRef in its runtime config"
    if kind == "Gateway" and reason == "NotFound":
        return "create the Gateway, or point routing.gatewayRef at an existing one (`kubectl get gateways -A`)"
    if kind == "HTTPRoute" or reason in ("RouteFailed", "RouteTemplateInvalid"):
        return f"read the route's parent conditions: `kubectl describe httproute{ns} {node.name}`"
    if reason == "Unschedulable":
        return f"no node can run the pod: `kubectl describe pod{ns} {node.name}` says why (GPUs, taints, resources)"
    if kind == "InferenceService" or reason == "RuntimeFailed":
        return f"KServe reports the problem: `kubectl describe inferenceservice{ns} {node.name}` and its pods' logs"
    if kind == "Pod":
        return f"`kubectl describe pod{ns} {node.name}` and `kubectl logs{ns} {node.name}`"
    if node.state.state == "NotCreated":
        return "the operator creates it once what comes before it is ready; is `aimctl run` running?"
    if reason == "NoStatus":
        return "the operator has not reconciled it yet: is `aimctl run` running and watching this namespace?"
    lower = kind.lower()
    return f"see its conditions and events: `kubectl describe {lower}{ns} {node.name}`"
