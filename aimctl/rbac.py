"""The operator's RBAC: every permission it needs, why, and the manifests generated from them.

Why a table in code: least privilege is only real if it is checked. ``deploy/rbac/role.yaml`` and
``deploy/rbac/leader_election_role.yaml`` are generated from :data:`CLUSTER_PERMISSIONS` and
:data:`LEADER_ELECTION_PERMISSIONS` (``aimctl deploy manifests``), and the tests hold the table to
the code from both sides:

* statically, every resource a controller watches must be granted ``list`` and ``watch`` and every
  ``list``/``watch`` grant must be watched by some controller (``tests/unit/deploy/test_rbac.py``);
* dynamically, the operator runs with the ServiceAccount's token against the RBAC-enforcing local
  apiserver through a recording proxy; no request may be denied, and every granted
  (group, resource, verb) must have been used by some request (``tests/integration/test_deploy_rbac.py``).
  Each (group, resource, verb) is granted by exactly one rule, so a grant that was used is a grant
  whose removal makes that request fail with 403.

How requests map to verbs (what the apiserver's authorizer checks):

=========================================== ==============================================
request                                     verbs checked
=========================================== ==============================================
GET object / GET collection / ``?watch=1``  ``get`` / ``list`` / ``watch``
POST                                        ``create``
PUT                                         ``update``
PATCH (any, including server-side apply)    ``patch``; plus ``create`` when the apply creates
                                            the object (HTTP 201)
DELETE                                      ``delete``
=========================================== ==============================================

Secrets are read-only (list/watch for the informer, always with a field selector on the two
pull-secret types, so other Secrets never reach the operator; it never GETs one), there are no
wildcards, and there is no ``deletecollection``, ``escalate``, ``bind`` or ``impersonate``.

Caveat: children carry ``blockOwnerDeletion: true``; on clusters with the
``OwnerReferencesPermissionEnforcement`` admission plugin (OpenShift) the role additionally
needs ``update`` on ``<owner plural>/finalizers`` — vanilla Kubernetes and kind do not check it, so
it is not granted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from aimctl.kube import resources as r
from informers.resource import Resource

READ = ("get", "list", "watch")
CACHED = ("list", "watch")
APPLY = ("create", "patch")

#: Names of the generated objects (``deploy/rbac``); kustomize's ``namePrefix`` is not used.
CLUSTER_ROLE = "aimctl-manager"
LEADER_ELECTION_ROLE = "aimctl-leader-election"
SERVICE_ACCOUNT = "aimctl"

VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete")


@dataclass(frozen=True)
class Permission:
    """Verbs on one resource (or one subresource), and the reason the operator needs them."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    why: str

    @classmethod
    def of(cls, res: Resource, verbs: Iterable[str], why: str, subresource: str = "") -> Permission:
        plural = f"{res.plural}/{subresource}" if subresource else res.plural
        return cls(res.group, plural, tuple(sorted(set(verbs), key=VERB_ORDER.index)), why)

    def grants(self) -> Iterator[tuple[str, str, str]]:
        for verb in self.verbs:
            yield (self.group, self.resource, verb)


def _aim(res: Resource, verbs: Iterable[str], why: str) -> list[Permission]:
    """An AIM kind: the informer (list/watch), extra verbs, and its status subresource (apply)."""
    return [
        Permission.of(res, (*CACHED, *verbs), why),
        Permission.of(res, ("patch",), "status written with server-side apply", "status"),
    ]


CLUSTER_PERMISSIONS: tuple[Permission, ...] = (
    *_aim(
        r.AIM_IMAGES,
        ("patch",),
        "reconciled (image metadata, template creation); the memory of metadata reads is an annotation",
    ),
    *_aim(
        r.AIM_CLUSTER_IMAGES,
        ("patch",),
        "reconciled (image metadata, cluster template creation); the memory of metadata reads is an annotation",
    ),
    *_aim(
        r.AIM_SERVICE_TEMPLATES,
        (*APPLY, "delete"),
        "reconciled; created from an AIMImage's recommended "
        "deployments and as services' derived templates; stale and unreferenced derived ones deleted",
    ),
    *_aim(
        r.AIM_CLUSTER_SERVICE_TEMPLATES,
        (*APPLY, "delete"),
        "reconciled; created from an AIMClusterImage's recommended deployments, stale ones deleted",
    ),
    *_aim(r.AIM_RUNTIME_CONFIGS, (), "validated and reported; consumers re-reconciled on change"),
    *_aim(r.AIM_CLUSTER_RUNTIME_CONFIGS, (), "validated and reported; consumers re-reconciled on change"),
    *_aim(
        r.AIM_MODEL_CACHES,
        (*APPLY, "delete"),
        "reconciled; created by template caches, stale ones deleted; status.lastUsed written by the service controller",
    ),
    *_aim(
        r.AIM_TEMPLATE_CACHES,
        (*APPLY, "delete"),
        "reconciled; created for caching templates and services with cacheModel, deleted when caching is turned off",
    ),
    *_aim(r.AIM_SERVICES, (), "reconciled"),
    Permission.of(r.JOBS, (*CACHED, *APPLY, "delete"), "discovery and model download Jobs; replaced on rediscovery"),
    Permission.of(r.PODS, CACHED, "discovery pods: which pod of a finished Job holds the result"),
    Permission.of(r.PODS, ("get",), "discovery output: the log of the finished discovery pod", "log"),
    Permission.of(
        r.PERSISTENT_VOLUME_CLAIMS,
        (*CACHED, *APPLY),
        "model cache volumes (never deleted by hand: garbage-collected with their cache)",
    ),
    Permission.of(
        r.SECRETS,
        CACHED,
        "image pull secrets only: every list and watch carries the field selector "
        "type=kubernetes.io/dockerconfigjson or type=kubernetes.io/dockercfg, so no other Secret is "
        "sent to the operator; their data is the registry credentials for image inspection, their "
        "existence the PullSecretsFound condition of runtime configs. The grant itself cannot be "
        "narrower: RBAC has no field-selector rules, and the pull secrets' names and namespaces are "
        "user-chosen (no resourceNames); never get, never a write",
    ),
    Permission.of(r.NODES, CACHED, "GPU availability from the AMD GPU node labels"),
    Permission.of(r.STORAGE_CLASSES, CACHED, "the storage class of model caches and runtime configs"),
    Permission.of(r.EVENTS, ("create",), "one event per state transition"),
    Permission.of(r.SERVING_RUNTIMES, (*CACHED, *APPLY), "KServe runtime of each namespaced template"),
    Permission.of(r.CLUSTER_SERVING_RUNTIMES, (*CACHED, *APPLY), "KServe runtime of each cluster template"),
    Permission.of(r.INFERENCE_SERVICES, (*CACHED, *APPLY), "the InferenceService of each AIMService"),
    Permission.of(
        r.HTTP_ROUTES, (*CACHED, *APPLY, "delete"), "the route of each AIMService; deleted when routing is turned off"
    ),
)
"""The ClusterRole: everything the controllers do, cluster-wide."""

LEADER_ELECTION_PERMISSIONS: tuple[Permission, ...] = (
    Permission.of(
        r.LEASES,
        ("get", "watch", "create", "update"),
        "leader election on a coordination.k8s.io Lease (watched by name, so a released lease is taken over at once)",
    ),
)
"""The Role in the operator's namespace (leader election only)."""


def grants(permissions: Iterable[Permission]) -> set[tuple[str, str, str]]:
    """Every (group, resource, verb) the permissions allow."""
    return {g for p in permissions for g in p.grants()}


def _rules(permissions: Iterable[Permission]) -> list[dict[str, Any]]:
    """RBAC rules, one per (group, verb set), resources sorted: stable and reviewable."""
    by_key: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for p in permissions:
        by_key.setdefault((p.group, p.verbs), []).append(p.resource)
    rules = [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in by_key.items()
    ]
    return sorted(rules, key=lambda rule: (rule["apiGroups"][0], rule["resources"][0], rule["verbs"]))


def cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": CLUSTER_ROLE, "labels": {"app.kubernetes.io/name": "aimctl"}},
        "rules": _rules(CLUSTER_PERMISSIONS),
    }


def leader_election_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": LEADER_ELECTION_ROLE, "labels": {"app.kubernetes.io/name": "aimctl"}},
        "rules": _rules(LEADER_ELECTION_PERMISSIONS),
    }


def _document(obj: dict[str, Any], permissions: Iterable[Permission]) -> str:
    why = "\n".join(f"#   {p.group or 'core'} {p.resource} [{', '.join(p.verbs)}]: {p.why}" for p in permissions)
    header = (
        "# Code generated by `aimctl deploy manifests` from aimctl/rbac.py. DO NOT EDIT.\n"
        "# Why each permission is needed:\n" + why + "\n"
    )
    return header + yaml.safe_dump(obj, sort_keys=False, width=120)


def render() -> dict[str, str]:
    """The generated RBAC files, by path relative to ``deploy/rbac``."""
    return {
        "role.yaml": _document(cluster_role(), CLUSTER_PERMISSIONS),
        "leader_election_role.yaml": _document(leader_election_role(), LEADER_ELECTION_PERMISSIONS),
    }


# -- mapping API requests to what RBAC checks (used by the recording proxy in the tests) -----------


@dataclass(frozen=True)
class RequestAttributes:
    """What the authorizer sees of a resource request."""

    group: str
    resource: str
    """``plural`` or ``plural/subresource``."""
    namespace: str
    name: str


def parse_path(path: str) -> RequestAttributes | None:
    """The resource attributes of an API path; ``None`` for non-resource URLs (``/version``, ``/apis``)."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":
        return RequestAttributes(group, "namespaces", "", rest[1])
    plural = rest[0]
    name = rest[1] if len(rest) >= 2 else ""
    sub = rest[2] if len(rest) >= 3 else ""
    return RequestAttributes(group, f"{plural}/{sub}" if sub else plural, namespace, name)


def request_verbs(method: str, path: str, query: str, status: int) -> list[str]:
    """The RBAC verbs a request needed (see the table in the module docstring)."""
    method = method.upper()
    attrs = parse_path(path)
    if method == "GET":
        if "watch=1" in query or "watch=true" in query:
            return ["watch"]
        return ["get"] if attrs is not None and attrs.name else ["list"]
    if method == "POST":
        return ["create"]
    if method == "PUT":
        return ["update"]
    if method == "PATCH":
        return ["patch", "create"] if status == 201 else ["patch"]
    if method == "DELETE":
        return ["delete"] if attrs is not None and attrs.name else ["deletecollection"]
    return [method.lower()]
