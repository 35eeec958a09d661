"""Runtime-config resolution: which AIMRuntimeConfig / AIMClusterRuntimeConfig a consumer uses.

Rules (the original operator's, kept exactly; ``docs/original-behaviour.md``):

1. the namespaced ``AIMRuntimeConfig <namespace>/<name>`` wins and its spec is used **wholesale**
   (no merging with the cluster config);
2. else the ``AIMClusterRuntimeConfig <name>``: only its common part (``defaultStorageClassName``,
   ``routing``) — the cluster kind has no credentials;
3. else, for the implicit name ``default`` only, an empty spec with no reference (a cluster without
   any runtime config works);
4. else the config is :class:`MissingRuntimeConfig` — an error for its consumer, with a message that
   names what was looked for.

Consumers pass the namespace they resolve in: their own, the operator namespace for cluster-scoped
consumers, or ``None`` to look only at the cluster kind. An empty name means ``default``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aimctl.kube.objects import dig_list, dig_map, dig_str, spec_of
from aimctl.resolve import Lookup, key_of, reference

DEFAULT_NAME = "default"
NAMESPACED_KIND = "AIMRuntimeConfig"
CLUSTER_KIND = "AIMClusterRuntimeConfig"
_COMMON_FIELDS = ("defaultStorageClassName", "routing")


@dataclass(frozen=True)
class ResolvedRuntimeConfig:
    """The effective runtime config of a consumer.

    ``reference`` is the ``AIMResolvedRuntimeConfig`` to write into the consumer's status, or ``None``
    when the implicit ``default`` exists at neither scope (then ``spec`` is empty).
    """

    name: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    reference: Mapping[str, Any] | None = None

    @property
    def found(self) -> bool:
        return self.reference is not None

    @property
    def scope(self) -> str | None:
        return str(self.reference["scope"]) if self.reference else None

    @property
    def image_pull_secrets(self) -> list[str]:
        """Names of the pull secrets (namespaced configs only), in spec order, without duplicates."""
        names = [str(s.get("name")) for s in dig_list(self.spec, "imagePullSecrets") if s.get("name")]
        return list(dict.fromkeys(names))

    @property
    def service_account_name(self) -> str | None:
        return self.spec.get("serviceAccountName") or None

    @property
    def default_storage_class_name(self) -> str | None:
        return self.spec.get("defaultStorageClassName") or None

    @property
    def routing(self) -> Mapping[str, Any]:
        return dig_map(self.spec, "routing")


@dataclass(frozen=True)
class MissingRuntimeConfig:
    """A non-default runtime config that exists at neither scope."""

    name: str
    namespace: str | None

    @property
    def message(self) -> str:
        if self.namespace:
            return f'AIMRuntimeConfig "{self.name}" not found in namespace "{self.namespace}"'
        return f'AIMClusterRuntimeConfig "{self.name}" not found'

    reason = "RuntimeConfigMissing"


RuntimeConfigResolution = ResolvedRuntimeConfig | MissingRuntimeConfig


def resolve_runtime_config(
    namespace: str | None, name: str | None, namespaced: Lookup, cluster: Lookup
) -> RuntimeConfigResolution:
    """Resolve ``name`` (empty → ``default``) for a consumer resolving in ``namespace``.

    ``namespaced`` holds AIMRuntimeConfigs by ``namespace/name``, ``cluster`` AIMClusterRuntimeConfigs
    by ``name``. Pure: reads only the two look-ups.
    """
    name = name or DEFAULT_NAME
    if namespace:
        obj = namespaced.get(key_of(namespace, name))
        if obj is not None:
            return ResolvedRuntimeConfig(name, dict(spec_of(obj)), reference(obj, NAMESPACED_KIND, "Namespace"))
    cobj = cluster.get(name)
    if cobj is not None:
        spec = {k: v for k, v in spec_of(cobj).items() if k in _COMMON_FIELDS}
        return ResolvedRuntimeConfig(name, spec, reference(cobj, CLUSTER_KIND, "Cluster"))
    if name == DEFAULT_NAME:
        return ResolvedRuntimeConfig(name)
    return MissingRuntimeConfig(name, namespace)


def runtime_config_name(spec: Mapping[str, Any] | None) -> str:
    """The runtime config a spec names (``runtimeConfigName``, empty → ``default``)."""
    return dig_str(spec, "runtimeConfigName", default=DEFAULT_NAME)
