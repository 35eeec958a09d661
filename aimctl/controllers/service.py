"""The AIMService controller (field manager ``aim-service``): template resolution, derived templates,
the InferenceService, caching and routing. Rules in :mod:`statemachines.service`.

Observation (caches only): the template the service resolves to (:mod:`aimctl.resolve.template`), the
runtime config named by the service (:mod:`aimctl.resolve.runtime_config`), the template's image
(:mod:`aimctl.resolve.image`), the effective routing settings and the rendered path
(:mod:`aimctl.routing`), the template cache and its model caches, and the service's InferenceService
and HTTPRoute.

Children and what this module builds for each effect:

============================ ======================================================================
role                         what
============================ ======================================================================
``derived-template``         the derived AIMServiceTemplate: the base's spec with the overrides
                             applied, nothing of one service (:mod:`aimctl.builders.derived_template`);
                             applied when missing or when it no longer equals that spec (every
                             consumer computes the same one, so consumers never fight over it)
``template-cache``           :mod:`aimctl.builders.service_template_cache`, for ``cacheModel``
                             with a template that does not cache itself; created once
``inference-service``        :mod:`aimctl.builders.inference_service`
``http-route``               :mod:`aimctl.builders.http_route` (deleted when routing is disabled)
``model-cache-usage``        ``status.lastUsed`` of each mounted AIMModelCache, through the status
                             subresource with this controller's field manager
============================ ======================================================================

Derived-template garbage collection (``docs/original-behaviour.md``, fix 17) is not this controller's:
consumers are not recorded on the template (a new consumer costs no write of it), and
:mod:`aimctl.controllers.derived_templates` deletes a derived template once no service points at it.

Watches and what they wake:

=========================================== ===========================================================
event                                       services reconciled
=========================================== ===========================================================
the service                                 itself
its InferenceService, its HTTPRoute         the controller owner
a predictor pod (status changes)             the owner of the InferenceService its KServe label names
AIMServiceTemplate ``ns/name``              services of ``ns`` naming it (``templateRef``, derived name,
                                            ``status.resolvedTemplate``) and its AIMService owners
                                            (derived templates written by earlier versions)
AIMClusterServiceTemplate ``name``          services naming it, in every namespace
AIMImage / AIMClusterImage (spec, uid)      services whose ``aimImageName`` names it
AIMRuntimeConfig / AIMClusterRuntimeConfig  services whose ``runtimeConfigName`` names it
AIMTemplateCache                            services of its namespace naming its template
AIMModelCache (state, PVC)                  services of its template cache's template
AIMServiceTemplate / AIMClusterServiceTemplate  also services of its image with no ``templateRef`` and
                                            no template resolved yet (automatic choice)
Node (labels, allocatable, unschedulable)   services resolved to a template whose GPU model the node's
                                            labels name (their affinity lists the values), and
                                            services with no ``templateRef`` and no template resolved
=========================================== ===========================================================

Automatic template choice (:mod:`aimctl.resolve.choice`): without ``templateRef`` and image default the
template is chosen among the image's templates, kept while usable, and announced with a
``TemplateChosen`` event when the resolved template changes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimctl.api.enums import API_GROUP, GROUP_VERSION
from aimctl.builders.derived_template import (
    build_derived_template,
    derived_name,
    is_derived,
    service_owner_uids,
    specs_equal,
)
from aimctl.builders.http_route import build_http_route
from aimctl.builders.inference_service import (
    InferenceServiceInputs,
    build_inference_service,
    cache_mounts,
    gpu_count,
    gpu_node_selector_terms,
    model_id,
)
from aimctl.builders.model_cache_usage import last_used_status
from aimctl.builders.model_caches_for_template import model_sources
from aimctl.builders.service_template_cache import build_service_template_cache
from aimctl.controllers.base import Child, Deletion, Desired, KindController
from aimctl.controllers.common import (
    BY_GPU_MODEL,
    BY_IMAGE_NAME,
    BY_IMAGE_NAME_ANY_NS,
    BY_RUNTIME_CONFIG,
    BY_RUNTIME_CONFIG_ANY_NS,
    POD_PROJECTION,
    changed,
    discovered_profile_id,
    event_name,
    event_ns_name,
    index_gpu_model,
    index_image_name,
    index_image_name_any_ns,
    index_runtime_config,
    index_runtime_config_any_ns,
    io_parts,
    name_of,
    namespace_of,
    spec_changed,
    when,
)
from aimctl.gpu import labels_name_model
from aimctl.kube.objects import (
    condition,
    controlled_by,
    controller_ref,
    created_at,
    dig,
    dig_list,
    dig_map,
    dig_str,
    meta_of,
    owner_refs,
    spec_of,
    status_of,
)
from aimctl.kube.resources import (
    AIM_CLUSTER_IMAGES,
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_IMAGES,
    AIM_MODEL_CACHES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    AIM_SERVICES,
    AIM_TEMPLATE_CACHES,
    HTTP_ROUTES,
    INFERENCE_SERVICES,
    NODES,
    PODS,
)
from aimctl.manager import Manager
from aimctl.naming import DEFAULT_DOMAIN_TEMPLATE, IsvcNameError, inference_service_name
from aimctl.reconcile import Result, Watch
from aimctl.resolve.choice import no_candidate_message
from aimctl.resolve.image import ResolvedImage, resolve_image
from aimctl.resolve.runtime_config import MissingRuntimeConfig, ResolvedRuntimeConfig, resolve_runtime_config
from aimctl.resolve.template import TemplateResolution, resolve_service_template
from aimctl.routing.path import default_path
from aimctl.routing.render import RouteTemplateError, render_route_path, route_template_field
from aimctl.routing.settings import RoutingSettings, effective_routing
from aimctl.status.conditions import now_rfc3339
from aimctl.status.predictor import ISVC_POD_LABEL, predictor_problem
from informers.handlers import InformerEvent, controller_owner_key, self_key
from informers.indexers import BY_CONTROLLER_UID, controller_uid
from informers.resource import Resource
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.service import (
    MACHINE,
    ROLE_CACHE_USAGE,
    ROLE_DERIVED_TEMPLATE,
    ROLE_HTTP_ROUTE,
    ROLE_INFERENCE_SERVICE,
    ROLE_TEMPLATE_CACHE,
    RouteCondition,
    ServiceObservation,
    TemplateView,
)

KIND = "AIMService"
#: Services by ``namespace/<template name>`` for every template name they point at.
BY_TEMPLATE_NAME = "aim:service-template"
#: Services by ``<template name>`` regardless of namespace (cluster templates).
BY_TEMPLATE_NAME_ANY_NS = "aim:service-template-any-ns"
#: Services with no ``templateRef`` and no template resolved, by ``namespace/<aimImageName>`` and by
#: ``<aimImageName>`` (woken by template and node events for the automatic choice).
BY_UNRESOLVED_IMAGE = "aim:service-unresolved-image"
BY_UNRESOLVED_IMAGE_ANY_NS = "aim:service-unresolved-image-any-ns"
#: Reason of the event announcing an automatically chosen template.
TEMPLATE_CHOSEN = "TemplateChosen"
#: Predictor pods by ``namespace/<InferenceService name>`` (KServe's label on them).
BY_ISVC = "aim:predictor-isvc"
#: A mounted model cache's ``lastUsed`` is refreshed when older than this, while the service runs.
LAST_USED_REFRESH = dt.timedelta(hours=24)


def template_names(obj: Obj) -> list[str]:
    """Every template name a service points at: ``templateRef``, the derived name over it, and
    ``status.resolvedTemplate.name`` (which covers image defaults and reused templates)."""
    spec = spec_of(obj)
    names: list[str] = []
    ref = str(spec.get("templateRef") or "").strip()
    if ref:
        names.append(ref)
        if spec.get("overrides") is not None:
            names.append(derived_name(ref, spec["overrides"]))
    resolved = dig(obj, "status", "resolvedTemplate", "name")
    if resolved:
        names.append(str(resolved))
    return list(dict.fromkeys(names))


def unresolved_image(obj: Obj) -> str:
    """The ``aimImageName`` of a service without ``templateRef`` whose status names no found
    template yet ("" otherwise)."""
    spec = spec_of(obj)
    if str(spec.get("templateRef") or "").strip():
        return ""
    scope = dig(obj, "status", "resolvedTemplate", "scope")
    return "" if scope in ("Namespace", "Cluster") else str(spec.get("aimImageName") or "")


def index_unresolved_image(obj: Obj) -> list[str]:
    image, ns = unresolved_image(obj), namespace_of(obj)
    return [f"{ns}/{image}"] if image and ns else []


def index_unresolved_image_any_ns(obj: Obj) -> list[str]:
    image = unresolved_image(obj)
    return [image] if image else []


def index_template_name(obj: Obj) -> list[str]:
    ns = namespace_of(obj)
    return [f"{ns}/{n}" for n in template_names(obj)] if ns else []


def index_template_name_any_ns(obj: Obj) -> list[str]:
    return template_names(obj)


def index_predictor_isvc(obj: Obj) -> list[str]:
    """``namespace/<InferenceService>`` of a KServe predictor pod (none for other pods)."""
    isvc = dig(obj, "metadata", "labels", ISVC_POD_LABEL)
    return [f"{namespace_of(obj)}/{isvc}"] if isvc else []


class _StatusOf(Resource):
    """A resource whose object paths address the ``status`` subresource: applying a ``{metadata,
    status}`` fragment through it writes only that status field, with this controller's manager."""

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        return super().path(namespace, name, subresource or ("status" if name is not None else None))


MODEL_CACHE_STATUS = _StatusOf(
    AIM_MODEL_CACHES.group, AIM_MODEL_CACHES.version, AIM_MODEL_CACHES.plural, AIM_MODEL_CACHES.kind
)


@dataclass(frozen=True)
class Observed(ServiceObservation):
    """The machine's observation plus what the builders need (the rules ignore these fields)."""

    service: Obj = field(default_factory=dict)
    resolution: TemplateResolution | None = None
    runtime_config: ResolvedRuntimeConfig | None = None
    image: ResolvedImage | None = None
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    route_path: str = ""
    mounts: tuple[tuple[str, str], ...] = ()
    usage: tuple[tuple[Obj, dict[str, str]], ...] = ()
    cached_isvc: Obj | None = None
    cached_route: Obj | None = None
    #: The InferenceService's name (the service's own, or its shortened form).
    isvc_name: str = ""


class ServiceController(KindController[Observed]):
    """Reconciles AIMServices (see the module docstring)."""

    name = "aim-service"
    resource = AIM_SERVICES
    machine = MACHINE

    def __init__(self, manager: Manager) -> None:
        cache = manager.cache
        services = cache.informer(AIM_SERVICES)
        for index, fn in (
            (BY_TEMPLATE_NAME, index_template_name),
            (BY_TEMPLATE_NAME_ANY_NS, index_template_name_any_ns),
            (BY_IMAGE_NAME, index_image_name),
            (BY_IMAGE_NAME_ANY_NS, index_image_name_any_ns),
            (BY_RUNTIME_CONFIG, index_runtime_config),
            (BY_RUNTIME_CONFIG_ANY_NS, index_runtime_config_any_ns),
            (BY_UNRESOLVED_IMAGE, index_unresolved_image),
            (BY_UNRESOLVED_IMAGE_ANY_NS, index_unresolved_image_any_ns),
        ):
            services.add_indexer(index, fn)
        templates = cache.informer(AIM_SERVICE_TEMPLATES)
        templates.add_indexer(BY_IMAGE_NAME, index_image_name)
        templates.add_indexer(BY_GPU_MODEL, index_gpu_model)
        cluster_templates = cache.informer(AIM_CLUSTER_SERVICE_TEMPLATES)
        cluster_templates.add_indexer(BY_IMAGE_NAME, index_image_name)
        cluster_templates.add_indexer(BY_GPU_MODEL, index_gpu_model)
        model_caches = cache.informer(AIM_MODEL_CACHES)
        model_caches.add_indexer(BY_CONTROLLER_UID, controller_uid)
        self.templates = templates.store
        self.cluster_templates = cluster_templates.store
        self.images = cache.informer(AIM_IMAGES).store
        self.cluster_images = cache.informer(AIM_CLUSTER_IMAGES).store
        self.runtime_configs = cache.informer(AIM_RUNTIME_CONFIGS).store
        self.cluster_runtime_configs = cache.informer(AIM_CLUSTER_RUNTIME_CONFIGS).store
        self.template_caches = cache.informer(AIM_TEMPLATE_CACHES).store
        self.model_caches = model_caches.store
        self.isvcs = cache.informer(INFERENCE_SERVICES).store
        # The pod cache the template controller has anyway (discovery pods): predictor pods are read
        # from it through KServe's label; no watch of its own.
        pods = cache.informer(PODS, POD_PROJECTION)
        pods.add_indexer(BY_ISVC, index_predictor_isvc)
        self.pods = pods.store
        self.routes = cache.informer(HTTP_ROUTES).store
        #: GPU availability for the automatic choice, and the label values of the GPU affinity.
        self.nodes = cache.informer(NODES).store
        #: ``TemplateChosen`` event notes of the reconcile in flight, by service key.
        self._chosen: dict[str, str] = {}
        #: KServe's ingress domainTemplate, which decides how long an InferenceService name may be.
        self.domain_template = os.environ.get(DOMAIN_TEMPLATE_ENV) or DEFAULT_DOMAIN_TEMPLATE
        #: Admission webhooks' refusals of a service's InferenceService, by service key (see
        #: :meth:`refused`): KServe's validation is reported on the AIMService, not retried blindly.
        self.isvc_refusals: dict[str, str] = {}
        super().__init__(services.store, *io_parts(manager.client, self.name), manager.metrics)

    def reports_refusals(self, child: Desired) -> bool:
        return child.resource is INFERENCE_SERVICES

    def refused(self, key: str, child: Desired, message: str) -> bool:
        before = self.isvc_refusals.pop(key, "")
        if message:
            self.isvc_refusals[key] = message
        return before != message

    # -- watches -----------------------------------------------------------------------------------

    def watches(self) -> Sequence[Watch]:
        owned = controller_owner_key(KIND, API_GROUP)
        return [
            Watch(AIM_SERVICES, self_key),
            # By controller owner, and by name: a foreign child of a service's name going away (or
            # changing owner) must wake the service that reports the conflict.
            Watch(INFERENCE_SERVICES, self._owner_or_namesake(owned)),
            Watch(HTTP_ROUTES, self._owner_or_namesake(owned)),
            Watch(PODS, when(_pod_status_changed, self._predictor_service), transform=POD_PROJECTION),
            Watch(AIM_SERVICE_TEMPLATES, self._namespaced_template_services),
            Watch(AIM_CLUSTER_SERVICE_TEMPLATES, self._by(BY_TEMPLATE_NAME_ANY_NS, event_name)),
            Watch(AIM_SERVICE_TEMPLATES, self._by(BY_UNRESOLVED_IMAGE, _template_image)),
            Watch(AIM_CLUSTER_SERVICE_TEMPLATES, self._by(BY_UNRESOLVED_IMAGE_ANY_NS, _template_image_any_ns)),
            Watch(NODES, when(_node_changed, self._node_services)),
            Watch(AIM_IMAGES, when(spec_changed, self._by(BY_IMAGE_NAME, event_ns_name))),
            Watch(AIM_CLUSTER_IMAGES, when(spec_changed, self._by(BY_IMAGE_NAME_ANY_NS, event_name))),
            Watch(AIM_RUNTIME_CONFIGS, when(spec_changed, self._by(BY_RUNTIME_CONFIG, event_ns_name))),
            Watch(AIM_CLUSTER_RUNTIME_CONFIGS, when(spec_changed, self._by(BY_RUNTIME_CONFIG_ANY_NS, event_name))),
            Watch(AIM_TEMPLATE_CACHES, self._by(BY_TEMPLATE_NAME, _template_cache_refs)),
            Watch(
                AIM_MODEL_CACHES,
                when(
                    lambda e: changed(e, "status.status", "status.persistentVolumeClaim"),
                    self._by(BY_TEMPLATE_NAME, self._model_cache_templates),
                ),
            ),
        ]

    def _owner_or_namesake(self, owned: Any) -> Any:
        store = self.store

        def mapper(event: InformerEvent) -> list[str]:
            keys = list(owned(event))
            if event.key not in keys and event.key in store:
                keys.append(event.key)
            return keys

        return mapper

    def _node_services(self, event: InformerEvent) -> list[str]:
        """Services of templates whose GPU model the node's labels (now or before) name, and every
        service still waiting for an automatic choice."""
        nodes = [event.obj] + ([event.old] if event.old is not None else [])
        keys: list[str] = []
        for store, index, scoped in (
            (self.templates, BY_TEMPLATE_NAME, True),
            (self.cluster_templates, BY_TEMPLATE_NAME_ANY_NS, False),
        ):
            for model in store.index_values(BY_GPU_MODEL):
                if any(labels_name_model(n, model) for n in nodes):
                    for t in store.by_index(BY_GPU_MODEL, model):
                        value = f"{namespace_of(t)}/{name_of(t)}" if scoped else name_of(t)
                        keys.extend(self.store.keys_by_index(index, value))
        for image in self.store.index_values(BY_UNRESOLVED_IMAGE_ANY_NS):
            keys.extend(self.store.keys_by_index(BY_UNRESOLVED_IMAGE_ANY_NS, image))
        return list(dict.fromkeys(keys))

    def _predictor_service(self, event: InformerEvent) -> list[str]:
        """The AIMService controlling the InferenceService a predictor pod belongs to."""
        keys: list[str] = []
        for value in index_predictor_isvc(event.obj):
            isvc = self.isvcs.get(value)
            for ref in owner_refs(isvc):
                if ref.get("controller") and ref.get("kind") == KIND:
                    keys.append(f"{namespace_of(event.obj)}/{ref['name']}")
        return keys

    def _model_cache_templates(self, event: InformerEvent) -> list[str]:
        """``namespace/<template>`` of the template cache controlling a model cache."""
        ns = namespace_of(event.obj)
        for ref in owner_refs(event.obj):
            if ref.get("controller") and ref.get("kind") == "AIMTemplateCache":
                tc = self.template_caches.get(f"{ns}/{ref['name']}")
                if tc is not None:
                    return [f"{ns}/{n}" for n in _template_cache_refs_of(tc)]
        return []

    def _by(self, index: str, values: Any) -> Any:
        store = self.store

        def mapper(event: InformerEvent) -> list[str]:
            keys: list[str] = []
            for value in values(event):
                keys.extend(store.keys_by_index(index, value))
            return keys

        return mapper

    def _namespaced_template_services(self, event: InformerEvent) -> list[str]:
        ns = namespace_of(event.obj)
        keys = self.store.keys_by_index(BY_TEMPLATE_NAME, f"{ns}/{name_of(event.obj)}")
        for obj in (event.obj, event.old):
            for ref in owner_refs(obj):
                if ref.get("kind") == KIND and ref.get("apiVersion") == GROUP_VERSION:
                    keys.append(f"{ns}/{ref['name']}")
        return list(dict.fromkeys(keys))

    # -- observation -------------------------------------------------------------------------------

    async def observe(self, obj: Obj) -> Observed:
        meta, spec = obj["metadata"], spec_of(obj)
        ns, name = str(meta["namespace"]), str(meta["name"])
        image_name = str(spec.get("aimImageName") or "")
        res = resolve_service_template(
            obj,
            self.images,
            self.cluster_images,
            self.templates,
            self.cluster_templates,
            candidates=self.templates.by_index(BY_IMAGE_NAME, f"{ns}/{image_name}"),
            cluster_candidates=self.cluster_templates.by_index(BY_IMAGE_NAME, image_name),
            nodes=self.nodes,
        )
        choice = res.choice
        self._chosen.pop(f"{ns}/{name}", None)
        previous = dig(obj, "status", "resolvedTemplate", "name")
        if choice is not None and choice.chosen is not None and not choice.kept and previous != res.final_name:
            self._chosen[f"{ns}/{name}"] = f'Template "{res.final_name}": {choice.reason}'
        template = res.template
        view = _template_view(res) if template is not None else None

        rc = resolve_runtime_config(
            ns, spec.get("runtimeConfigName"), self.runtime_configs, self.cluster_runtime_configs
        )
        rc_error = rc.message if isinstance(rc, MissingRuntimeConfig) else ""
        resolved_rc = rc if isinstance(rc, ResolvedRuntimeConfig) else None

        # The template's image (what the runtime runs); without a template, the service's.
        image: ResolvedImage | None
        image_error = mismatch = ""
        if template is not None:
            tpl_image = dig_str(template, "spec", "aimImageName")
            cluster_only = res.scope == "Cluster"
            image = resolve_image(None if cluster_only else ns, tpl_image, self.images, self.cluster_images)
            if image is None:
                image_error = (
                    f'AIMClusterImage "{tpl_image}" not found'
                    if cluster_only
                    else f'AIMImage "{tpl_image}" not found in namespace "{ns}"'
                )
            if tpl_image != image_name:
                mismatch = (
                    f'Template "{res.final_name}" is for image "{tpl_image}", '
                    f'but the service names image "{image_name}"'
                )
        else:
            image = resolve_image(ns, image_name, self.images, self.cluster_images)

        # Routing (effective settings: the service, else its runtime config).
        settings = effective_routing(ns, spec.get("routing"), resolved_rc.routing if resolved_rc else None)
        route_path = route_error = ""
        if settings.enabled:
            try:
                route_path = render_route_path(settings.route_template, obj)
            except RouteTemplateError as exc:
                route_error = f"{route_template_field(spec.get('routing'), resolved_rc)} is invalid: {exc}"
                route_path = default_path(ns, str(meta.get("uid") or ""))
        route = self.routes.get(f"{ns}/{name}")
        route_route = route if route is not None and controlled_by(route, str(meta.get("uid"))) else None
        route_conflict = (
            foreign_child_message("HTTPRoute", route, meta) if route is not None and route_route is None else ""
        )
        parents = dig_list(route_route, "status", "parents")
        route_conditions = tuple(
            RouteCondition(
                str(c.get("type")), str(c.get("status")), str(c.get("reason") or ""), str(c.get("message") or "")
            )
            for p in parents
            for c in dig_list(p, "conditions")
        )

        # Caching.
        caching = bool(spec.get("cacheModel")) or (view is not None and view.caching_enabled)
        tc = self.template_caches.get(f"{ns}/{res.final_name}") if template is not None else None
        create_tc = bool(spec.get("cacheModel")) and view is not None and not view.caching_enabled and tc is None
        caches_ready, cache_failed, cache_message, mounts, mounted = self._caches(tc, template)
        if not caching:  # a template cache another service asked for is not this service's to mount
            mounts, mounted = (), ()

        # The InferenceService.
        name_error = ""
        try:
            isvc_name = inference_service_name(name, ns, self.domain_template)
        except IsvcNameError as exc:
            isvc_name, name_error = name, str(exc)
        found = self.isvcs.get(f"{ns}/{isvc_name}")
        isvc = found if found is not None and controlled_by(found, str(meta.get("uid"))) else None
        isvc_conflict = (
            foreign_child_message("InferenceService", found, meta) if found is not None and isvc is None else ""
        )
        isvc_ready = condition(isvc, "Ready", "True") is not None
        problem = (
            predictor_problem(isvc, self.pods.by_index(BY_ISVC, f"{ns}/{isvc_name}")) if isvc is not None else None
        )

        # The derived template: (re)applied when it does not carry the spec every consumer computes
        # (the base changed), or still carries consumers as owners (written by earlier versions).
        apply_derived = bool(
            template is not None
            and res.scope == "Namespace"
            and res.expected_spec is not None
            and is_derived(template)
            and res.final_name == derived_name(res.base_name, dig_map(spec, "overrides"))
            and (not specs_equal(spec_of(template), res.expected_spec) or service_owner_uids(template))
        )

        usage = self._usage(mounted, isvc) if caching and caches_ready else ()
        return Observed(
            base_name=res.base_name,
            final_name=res.final_name,
            derived=res.derived,
            create_template=res.create,
            base_error=res.base_error,
            choice_message=choice.reason if choice is not None and choice.chosen is not None else "",
            no_candidate=no_candidate_message(image_name, choice) if choice and choice.chosen is None else "",
            choice_waiting=bool(choice and choice.chosen is None and choice.waiting),
            template=view,
            runtime_config_error=rc_error,
            image_error=image_error,
            image_mismatch=mismatch if not image_error else "",
            isvc_name_shortened=isvc_name if isvc_name != name else "",
            name_error=name_error,
            routing_enabled=settings.enabled,
            gateway_ref_present=settings.gateway_ref is not None,
            route_error=route_error,
            route_exists=route_route is not None,
            route_conflict=route_conflict,
            route_has_parents=bool(parents),
            route_parent_conditions=route_conditions,
            cache_requested=caching,
            create_template_cache=create_tc,
            caches_ready=caches_ready,
            cache_failed=cache_failed,
            cache_message=cache_message,
            isvc_exists=isvc is not None,
            isvc_conflict=isvc_conflict,
            isvc_ready=isvc_ready,
            isvc_failure=problem.message if problem else "",
            isvc_failure_reason=problem.reason if problem else "RuntimeFailed",
            isvc_rejected=self.isvc_refusals.get(f"{ns}/{name}", ""),
            apply_derived_template=apply_derived,
            cache_usage_stale=bool(usage),
            service=obj,
            resolution=res,
            runtime_config=resolved_rc,
            image=image,
            routing=settings,
            route_path=route_path,
            mounts=mounts,
            usage=usage,
            cached_isvc=isvc,
            cached_route=route_route,
            isvc_name=isvc_name,
        )

    def _caches(
        self, tc: Obj | None, template: Mapping[str, Any] | None
    ) -> tuple[bool, bool, str, tuple[tuple[str, str], ...], tuple[Obj, ...]]:
        """(ready, failed, message, mounts, mounted model caches) of the template cache ``tc``."""
        if tc is None or template is None:
            return False, False, "", (), ()
        state = dig_str(tc, "status", "status")
        if state == "Failed":
            return False, True, _failure_message(tc) or "Template cache failed", (), ()
        if state != "Available":
            return False, False, "", (), ()
        children = {
            str(dig(c, "spec", "sourceUri")): c
            for c in self.model_caches.by_index(BY_CONTROLLER_UID, str(tc["metadata"].get("uid")))
        }
        mounts: list[tuple[str, str]] = []
        mounted: list[Obj] = []
        for source in model_sources(dig(template, "status", "modelSources")):
            cache = children.get(source.uri)
            cstatus = status_of(cache)
            pvc = cstatus.get("persistentVolumeClaim")
            if cache is None or cstatus.get("status") != "Available" or not pvc:
                return False, False, "", (), ()
            mounts.append((source.name or name_of(cache), str(pvc)))
            mounted.append(cache)
        return True, False, "", tuple(mounts), tuple(mounted)

    def _usage(self, mounted: Iterable[Obj], isvc: Obj | None) -> tuple[tuple[Obj, dict[str, str]], ...]:
        """``lastUsed`` fragments for mounted caches: the InferenceService's creation time (now, when
        it is about to be created), or now when the recorded time is more than a day old."""
        now = now_rfc3339()
        created = created_at(isvc) or now
        out: list[tuple[Obj, dict[str, str]]] = []
        for cache in mounted:
            used_at = created
            last = dig_str(cache, "status", "lastUsed")
            if last and _older_than(last, LAST_USED_REFRESH):
                used_at = now
            fragment = last_used_status(cache, used_at)
            if fragment is not None:
                out.append((cache, fragment))
        return tuple(out)

    # -- children ----------------------------------------------------------------------------------

    def children(self) -> Sequence[Child[Observed]]:
        return [
            Child(ROLE_DERIVED_TEMPLATE, AIM_SERVICE_TEMPLATES, self._derived_template),
            Child(ROLE_TEMPLATE_CACHE, AIM_TEMPLATE_CACHES, self._template_cache),
            Child(ROLE_INFERENCE_SERVICE, INFERENCE_SERVICES, self._isvc),
            Child(ROLE_HTTP_ROUTE, HTTP_ROUTES, self._http_route, _delete_http_route),
            Child(ROLE_CACHE_USAGE, AIM_MODEL_CACHES, self._cache_usage),
        ]

    def _derived_template(self, obj: Obj, obs: Observed) -> list[Desired]:
        res = obs.resolution
        assert res is not None and res.expected_spec is not None
        manifest = build_derived_template(res.final_name, obj["metadata"]["namespace"], res.expected_spec)
        cached = None if res.create or res.template is None else dict(res.template)
        return [Desired(AIM_SERVICE_TEMPLATES, manifest, cached)]

    def _template_cache(self, obj: Obj, obs: Observed) -> list[Desired]:
        res = obs.resolution
        assert res is not None and res.template is not None
        return [Desired(AIM_TEMPLATE_CACHES, build_service_template_cache(obj, res.template, str(res.kind)), None)]

    def _isvc(self, obj: Obj, obs: Observed) -> list[Desired]:
        return [Desired(INFERENCE_SERVICES, self._inference_service(obj, obs), obs.cached_isvc)]

    def _http_route(self, obj: Obj, obs: Observed) -> list[Desired]:
        res = obs.resolution
        assert res is not None and obs.routing.gateway_ref is not None and res.template is not None
        route = build_http_route(
            obj,
            obs.route_path,
            obs.routing.gateway_ref,
            res.final_name,
            model_id(spec_of(res.template), status_of(res.template)),
            obs.routing.annotations,
            isvc_name=obs.isvc_name,
        )
        return [Desired(HTTP_ROUTES, route, obs.cached_route)]

    def _cache_usage(self, obj: Obj, obs: Observed) -> list[Desired]:
        return [
            Desired(MODEL_CACHE_STATUS, {"metadata": _name_ns(cache), "status": fragment}, None, hashed=False)
            for cache, fragment in obs.usage
        ]

    def _inference_service(self, service: Obj, obs: Observed) -> Obj:
        res = obs.resolution
        assert res is not None and res.template is not None
        tspec = spec_of(res.template)
        tstatus = status_of(res.template)
        pid = discovered_profile_id(res.template)
        if pid:  # kept in the template's memory annotation: status.profile has no field for it
            tstatus = {**tstatus, "profile": {**dig_map(tstatus, "profile"), "id": pid}}
        model = dig_str(tspec, "gpuSelector", "model")
        terms = gpu_node_selector_terms(model, self.nodes) if gpu_count(tstatus) > 0 else []
        rc = obs.runtime_config
        inputs = InferenceServiceInputs(
            template_name=res.final_name,
            template_spec=tspec,
            template_status=tstatus,
            image_resources=obs.image.resources if obs.image is not None else None,
            runtime_config_pull_secrets=tuple(rc.image_pull_secrets) if rc else (),
            service_account=rc.service_account_name if rc else None,
            node_selector_terms=terms,
            caches=tuple(cache_mounts(obs.mounts)),
            name=obs.isvc_name,
        )
        return build_inference_service(service, inputs)

    async def reconcile(self, key: str) -> Result:
        """The base reconcile, then a ``TemplateChosen`` event when this reconcile chose a template
        automatically that the status did not name before (a kept choice announces nothing)."""
        result = await super().reconcile(key)
        note = self._chosen.pop(key, "")
        obj = self.store.get(key)
        if note and obj is not None:
            await self.events.emit(obj, "Normal", TEMPLATE_CHOSEN, "ChooseTemplate", note)
        return result

    # -- status ------------------------------------------------------------------------------------

    def status_fields(self, obj: Obj, obs: Observed, decision: Decision) -> dict[str, Any]:
        res = obs.resolution
        assert res is not None
        spec = spec_of(obj)
        fields: dict[str, Any] = {}
        if res.template is not None and res.scope is not None:
            tmeta = meta_of(res.template)
            ref: dict[str, Any] = {"name": res.final_name, "scope": res.scope, "kind": res.kind}
            if res.scope == "Namespace":
                ref["namespace"] = obj["metadata"]["namespace"]
            if tmeta.get("uid"):
                ref["uid"] = tmeta["uid"]
            fields["resolvedTemplate"] = ref
        else:
            fallback = res.final_name or str(spec.get("templateRef") or "").strip() or obj["metadata"]["name"]
            fields["resolvedTemplate"] = {"name": fallback, "scope": "Unknown"}
        if obs.image is not None:
            fields["resolvedImage"] = dict(obs.image.reference)
        if obs.runtime_config is not None and obs.runtime_config.reference is not None:
            fields["resolvedRuntimeConfig"] = dict(obs.runtime_config.reference)
        if obs.routing_enabled and obs.route_path:
            fields["routing"] = {"path": obs.route_path}
        return fields


# -- helpers -------------------------------------------------------------------------------------------

#: Environment variable: KServe's ingress ``domainTemplate`` when the cluster changed it (see
#: :func:`aimctl.naming.inference_service_name`); unset means KServe's default.
DOMAIN_TEMPLATE_ENV = "AIMCTL_KSERVE_DOMAIN_TEMPLATE"


def _template_view(res: TemplateResolution) -> TemplateView:
    template = res.template or {}
    spec, status = spec_of(template), status_of(template)
    failure = condition(template, "Failure", "True") or {}
    reason, message = str(failure.get("reason") or ""), str(failure.get("message") or "")
    return TemplateView(
        name=res.final_name,
        scope=str(res.scope),
        status=str(status.get("status") or "Pending"),
        aim_image_name=str(spec.get("aimImageName") or ""),
        failure_reason=reason,
        failure_message=message,
        has_model_sources=any(s.get("sourceUri") for s in dig_list(status, "modelSources")),
        caching_enabled=res.scope == "Namespace" and bool(dig(spec, "caching", "enabled")),
    )


def _failure_message(obj: Mapping[str, Any]) -> str:
    """The message of a ``Failure=True`` condition, else of a ``Ready=False`` one."""
    for type_, value in (("Failure", "True"), ("Ready", "False")):
        c = condition(obj, type_, value)
        if c is not None and c.get("message"):
            return str(c["message"])
    return ""


def foreign_child_message(kind: str, child: Obj, service_meta: Mapping[str, Any]) -> str:
    """The condition message for a child of the service's name that the service does not control:
    who controls it (kind and name, or nobody) and what to do. The operator never adopts it."""
    name = name_of(child)
    ctrl = controller_ref(child)
    if ctrl is None:
        owner = "has no controller owner (it was created outside this operator)"
    elif ctrl.get("kind") == KIND and ctrl.get("name") == service_meta.get("name"):
        owner = (
            f'is controlled by an earlier AIMService "{ctrl.get("name")}" (uid {ctrl.get("uid")}), not by this '
            "one; garbage collection deletes it once that owner is gone"
        )
    else:
        owner = f'is controlled by {ctrl.get("kind")} "{ctrl.get("name")}"'
    return (
        f'{kind} "{name}" already exists and {owner}. The operator does not take over objects it does not '
        f"own: delete that {kind} or give this AIMService another name."
    )


def _name_ns(obj: Obj) -> dict[str, str]:
    meta = obj["metadata"]
    return {"name": str(meta["name"]), "namespace": str(meta["namespace"])}


def _older_than(stamp: str, age: dt.timedelta) -> bool:
    try:
        when = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return True
    return dt.datetime.now(dt.UTC) - when > age


def _pod_status_changed(event: InformerEvent) -> bool:
    return bool(index_predictor_isvc(event.obj)) and changed(
        event, "status.phase", "status.conditions", "status.containerStatuses", "status.initContainerStatuses"
    )


def _delete_http_route(obj: Obj, obs: Observed, name: str) -> list[Deletion]:
    return [Deletion(HTTP_ROUTES, obj["metadata"]["namespace"], obj["metadata"]["name"])]


def _node_changed(event: InformerEvent) -> bool:
    return changed(event, "metadata.labels", "status.allocatable", "spec.unschedulable")


def _template_image(event: InformerEvent) -> list[str]:
    return [f"{namespace_of(event.obj)}/{i}" for i in _template_image_any_ns(event)]


def _template_image_any_ns(event: InformerEvent) -> list[str]:
    """The ``aimImageName`` of a template event, before and after the change (sorted, no empty)."""
    return sorted({i for o in (event.obj, event.old) if (i := dig_str(o, "spec", "aimImageName"))})


def _template_cache_refs(event: InformerEvent) -> list[str]:
    ns = namespace_of(event.obj)
    return [f"{ns}/{n}" for n in _template_cache_refs_of(event.obj)]


def _template_cache_refs_of(tc: Obj) -> list[str]:
    ref = dig_str(tc, "spec", "templateRef")
    return [n for n in dict.fromkeys([ref, name_of(tc)]) if n]
