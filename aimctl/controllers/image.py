"""The AIMImage and AIMClusterImage controllers (field managers ``aim-image`` and
``aim-cluster-image``).

Observation: the image's own status (metadata already read for this URI, failed attempts), the
runtime config ``default`` (in the image's namespace, or the operator namespace for cluster images)
and the pull secrets it names (from the Secret cache), the templates the image owns; and — only when
discovery is enabled, the metadata for the current URI is not known and no failure for the same
inputs is recorded or backing off — the image's config labels from its registry (the one non-cache
read besides pod logs). :mod:`statemachines.image` decides; this module applies the auto-created
templates and deletes those no longer recommended.

Watches: the image; the templates it owns; Secrets (through the runtime configs that name them),
AIMRuntimeConfig ``default`` of the namespace (the operator namespace for cluster images) and
AIMClusterRuntimeConfig ``default``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aimctl import labels
from aimctl.builders.auto_template import build_auto_templates
from aimctl.controllers.base import Child, Deletion, Desired, KindController
from aimctl.controllers.common import (
    BY_PULL_SECRET,
    index_pull_secret,
    io_parts,
    name_of,
    namespace_of,
    operator_namespace,
    owner_key,
)
from aimctl.kube.objects import (
    annotations_of,
    conditions_of,
    dig,
    dig_list,
    dig_map,
    key_of,
    meta_of,
    spec_of,
    status_of,
)
from aimctl.kube.resources import (
    AIM_CLUSTER_IMAGES,
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_IMAGES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    SECRETS,
)
from aimctl.manager import Manager
from aimctl.oci.client import RegistryClient
from aimctl.oci.credentials import PULL_SECRET_SELECTIONS, credentials_for, fingerprint, pull_secret_projection
from aimctl.oci.errors import RegistryError
from aimctl.oci.metadata import MetadataError, image_metadata
from aimctl.oci.reference import parse_reference
from aimctl.reconcile import Watch
from aimctl.resolve.runtime_config import DEFAULT_NAME, ResolvedRuntimeConfig, resolve_runtime_config
from informers.handlers import InformerEvent, self_key
from informers.indexers import BY_CONTROLLER_UID, BY_NAMESPACE, controller_uid, namespace
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.image import (
    AUTO_TEMPLATES,
    MACHINE,
    STALE_AUTO_TEMPLATES,
    ImageObservation,
    TemplateState,
    extracted_from_memory,
    legacy_memory,
    record_from_memory,
)


@dataclass(frozen=True)
class ImageView(ImageObservation):
    """The machine's observation plus what the builders need."""

    desired: tuple[Obj, ...] = ()
    runtime_config: ResolvedRuntimeConfig | None = None


class ImageController(KindController[ImageView]):
    machine = MACHINE
    memory_annotation = labels.METADATA_STATE

    def __init__(self, manager: Manager, cluster_scoped: bool, registry: RegistryClient | None = None) -> None:
        self.cluster_scoped = cluster_scoped
        self.resource = AIM_CLUSTER_IMAGES if cluster_scoped else AIM_IMAGES
        self.kind = self.resource.kind
        self.template_resource = AIM_CLUSTER_SERVICE_TEMPLATES if cluster_scoped else AIM_SERVICE_TEMPLATES
        self.name = "aim-cluster-image" if cluster_scoped else "aim-image"
        self.registry = registry or RegistryClient()
        self.operator_namespace = operator_namespace()
        cache = manager.cache
        images = cache.informer(self.resource)
        images.add_indexer(BY_NAMESPACE, namespace)
        templates = cache.informer(self.template_resource)
        templates.add_indexer(BY_CONTROLLER_UID, controller_uid)
        self.templates = templates.store
        rcs = cache.informer(AIM_RUNTIME_CONFIGS)
        rcs.add_indexer(BY_PULL_SECRET, index_pull_secret)
        self.runtime_configs = rcs.store
        self.cluster_runtime_configs = cache.informer(AIM_CLUSTER_RUNTIME_CONFIGS).store
        self.secrets = cache.informer(SECRETS, pull_secret_projection, PULL_SECRET_SELECTIONS).store
        super().__init__(images.store, *io_parts(manager.client, self.name), manager.metrics)

    # -- watches ---------------------------------------------------------------------------------------

    def watches(self) -> Sequence[Watch]:
        return [
            Watch(self.resource, self_key),
            Watch(self.template_resource, owner_key(self.kind, self.cluster_scoped)),
            Watch(SECRETS, self._secret_consumers, transform=pull_secret_projection, selections=PULL_SECRET_SELECTIONS),
            Watch(AIM_RUNTIME_CONFIGS, self._runtime_config_consumers),
            Watch(AIM_CLUSTER_RUNTIME_CONFIGS, self._cluster_runtime_config_consumers),
        ]

    def _images_in(self, ns: str | None) -> list[str]:
        if self.cluster_scoped:
            return self.store.keys() if ns == self.operator_namespace else []
        return self.store.keys_by_index(BY_NAMESPACE, ns) if ns else []

    def _secret_consumers(self, event: InformerEvent) -> list[str]:
        ns = namespace_of(event.obj)
        configs = self.runtime_configs.by_index(BY_PULL_SECRET, f"{ns}/{name_of(event.obj)}")
        return self._images_in(ns) if any(name_of(c) == DEFAULT_NAME for c in configs) else []

    def _runtime_config_consumers(self, event: InformerEvent) -> list[str]:
        return self._images_in(namespace_of(event.obj)) if name_of(event.obj) == DEFAULT_NAME else []

    def _cluster_runtime_config_consumers(self, event: InformerEvent) -> list[str]:
        return self.store.keys() if name_of(event.obj) == DEFAULT_NAME else []

    # -- observation -----------------------------------------------------------------------------------

    async def observe(self, obj: Obj) -> ImageView:
        meta, spec, status = meta_of(obj), spec_of(obj), status_of(obj)
        conditions = conditions_of(obj)
        generation = int(meta.get("generation") or 0)
        uri = str(spec.get("image") or "")
        discovery = dig_map(spec, "discovery")
        enabled = bool(discovery.get("enabled"))
        auto_create = discovery.get("autoCreateTemplates") is not False
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ns = None if self.cluster_scoped else str(meta["namespace"])
        secret_ns = ns or self.operator_namespace

        rc = resolve_runtime_config(secret_ns, DEFAULT_NAME, self.runtime_configs, self.cluster_runtime_configs)
        resolved = rc if isinstance(rc, ResolvedRuntimeConfig) else None
        names = resolved.image_pull_secrets if resolved else []
        secrets = [(n, self.secrets.get(f"{secret_ns}/{n}")) for n in names]
        creds_fp = fingerprint(secrets)
        memory = self.memory(obj) if labels.METADATA_STATE in annotations_of(obj) else legacy_memory(conditions)
        record, carried = record_from_memory(memory, uri, generation, creds_fp)

        metadata: dict[str, Any] | None = None
        error: tuple[str, str] | None = None
        transient = False
        attempted = False
        if enabled:
            stored = status.get("imageMetadata")
            if stored and extracted_from_memory(memory) == uri:
                metadata = dict(stored)
            elif carried is not None and (not record.transient or (record.retry_at and now < record.retry_at)):
                error, transient = carried, record.transient
            else:
                attempted = True
                metadata, error, transient = await self._inspect(uri, [s for _, s in secrets if s is not None])

        uid = str(meta.get("uid") or "")
        owned = self.templates.by_index(BY_CONTROLLER_UID, uid) if uid else []
        templates = tuple(TemplateState(name_of(t), dig(t, "status", "status")) for t in sorted(owned, key=name_of))
        desired: list[Obj] = []
        rejected: list[str] = []
        if metadata is not None:
            deployments = dig_list(metadata, "model", "recommendedDeployments")
            desired, bad = build_auto_templates(obj, self.kind, deployments)
            rejected = [f"recommended deployment #{r.index + 1}: {r.reason}" for r in bad]
        desired_names = {name_of(t) for t in desired}
        stale = (
            tuple(t.name for t in templates if t.name not in desired_names)
            if enabled and auto_create and metadata is not None
            else ()
        )
        return ImageView(
            kind=self.kind,
            name=str(meta["name"]),
            generation=generation,
            now=now,
            image_uri=uri,
            discovery_enabled=enabled,
            auto_create=auto_create,
            metadata=metadata,
            attempted=attempted,
            error=error,
            error_transient=transient,
            credentials=creds_fp,
            record=record,
            templates=templates,
            desired_templates=tuple(sorted(desired_names)),
            rejected=tuple(rejected),
            stale_templates=stale,
            desired=tuple(desired),
            runtime_config=resolved,
        )

    async def _inspect(
        self, uri: str, secrets: list[Obj]
    ) -> tuple[dict[str, Any] | None, tuple[str, str] | None, bool]:
        """Read the labels and parse them: ``(metadata, None, _)`` or ``(None, (reason, message), transient)``."""
        try:
            ref = parse_reference(uri)
            labels = await self.registry.labels(ref, credentials_for(self.registry.registry_for(ref), secrets))
            return image_metadata(labels), None, False
        except RegistryError as err:
            return None, (err.reason, f"Failed to extract metadata: {err}"), err.transient
        except MetadataError as err:
            return None, (err.reason, err.message), False

    # -- effects ----------------------------------------------------------------------------------------

    def children(self) -> Sequence[Child[ImageView]]:
        return [
            Child(AUTO_TEMPLATES, self.template_resource, self._auto_templates),
            Child(STALE_AUTO_TEMPLATES, self.template_resource, delete=self._stale_templates),
        ]

    def _auto_templates(self, obj: Obj, obs: ImageView) -> list[Desired]:
        out = []
        for manifest in obs.desired:
            cached = self.templates.get(key_of(manifest))
            out.append(Desired(self.template_resource, manifest, cached))
        return out

    def _stale_templates(self, obj: Obj, obs: ImageView, name: str) -> list[Deletion]:
        return [Deletion(self.template_resource, namespace_of(obj), n) for n in obs.stale_templates]

    def status_fields(self, obj: Obj, obs: ImageView, decision: Decision) -> dict[str, Any]:
        rc = obs.runtime_config
        fields = {
            "resolvedRuntimeConfig": dict(rc.reference) if rc and rc.reference else None,
            "imageMetadata": dig(obj, "status", "imageMetadata"),
        }
        return {k: v for k, v in fields.items() if v is not None}

    def compose_status(self, obj: Obj, obs: ImageView, decision: Decision) -> dict[str, Any]:
        status = super().compose_status(obj, obs, decision)
        return {k: v for k, v in status.items() if v is not None}
