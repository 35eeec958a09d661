"""Template resolution for an AIMService (pure over caches).

Steps (the original operator's, ``docs/original-behaviour.md``, with one addition):

1. **Base name**: ``spec.templateRef`` (trimmed), else the ``defaultServiceTemplate`` of the service's
   image — ``AIMImage <ns>/<aimImageName>`` when it exists and names one, else ``AIMClusterImage
   <aimImageName>`` — else, when the caller passes the nodes, the template chosen automatically among
   the image's templates (:mod:`aimctl.resolve.choice`: filters, order, stability); the chosen
   template object is used as the base directly (its scope is known).
2. **Without overrides**: the namespaced ``AIMServiceTemplate <ns>/<base>``, else the cluster template
   ``<base>``, else not found (nothing is created).
3. **With overrides** (even ``{}``): the derived name ``<base[:50]>-ovr-<h8>``; then

   a. *(addition)* the template the service resolved to last time (``status.resolvedTemplate``) if it
      still exists and still equals the expected derived spec — so a service that reused an equal
      template does not jump to a newly created derived one;
   b. the namespaced template with the derived name;
   c. a namespaced template with the same ``aimImageName`` and an equal full spec, else (only when the
      expected spec uses no namespaced-only field) a cluster template with an equal common spec —
      first by name;
   d. otherwise the derived template is to be created under the derived name.

   Without a base (empty name, or a base that exists at neither scope) there is nothing to derive
   from: ``base_error`` says why (the service reports it as Failed, as the original did).

The look-ups are :class:`aimctl.resolve.Lookup` objects (informer stores or dicts by key); the reuse
candidates are passed in by the caller (from an index on ``aimImageName``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimctl.builders.derived_template import (
    common_spec,
    derived_name,
    derived_spec,
    reusable_in_cluster,
    specs_equal,
)
from aimctl.kube.objects import dig, dig_map, dig_str, name_of, namespace_of, spec_of
from aimctl.resolve import Lookup, key_of
from aimctl.resolve.choice import TemplateChoice, choose_template

NAMESPACED_KIND = "AIMServiceTemplate"
CLUSTER_KIND = "AIMClusterServiceTemplate"


@dataclass(frozen=True)
class TemplateResolution:
    """Where a service's template reference led."""

    #: ``spec.templateRef`` or the image's default ("" when neither).
    base_name: str
    #: The template name settled on ("" when there is no base name at all).
    final_name: str
    derived: bool
    #: The template object found (``None`` when not found or still to be created).
    template: Mapping[str, Any] | None = None
    #: ``Namespace`` or ``Cluster`` for a found template.
    scope: str | None = None
    #: The derived template does not exist and should be created with ``expected_spec``.
    create: bool = False
    #: The derived spec computed from the base (derived services only, when the base was loaded).
    expected_spec: Mapping[str, Any] | None = None
    #: Why a derived template cannot be resolved ("" when it can).
    base_error: str = ""
    #: The automatic choice, when neither ``templateRef`` nor the image's default named the base.
    choice: TemplateChoice | None = None

    @property
    def kind(self) -> str | None:
        if self.scope == "Namespace":
            return NAMESPACED_KIND
        if self.scope == "Cluster":
            return CLUSTER_KIND
        return None


def base_template_name(service: Mapping[str, Any], images: Lookup, cluster_images: Lookup) -> str:
    """``spec.templateRef``, else the image's ``defaultServiceTemplate`` (namespace, then cluster)."""
    spec = spec_of(service)
    ref = str(spec.get("templateRef") or "").strip()
    if ref:
        return ref
    namespace = namespace_of(service)
    image_name = str(spec.get("aimImageName") or "")
    if not image_name:
        return ""
    for obj in (images.get(key_of(namespace, image_name)) if namespace else None, cluster_images.get(image_name)):
        default = dig_str(obj, "spec", "defaultServiceTemplate").strip()
        if default:
            return default
    return ""


def find_template(namespace: str, name: str, templates: Lookup, cluster_templates: Lookup) -> tuple[Any, str | None]:
    """The namespaced template ``namespace/name``, else the cluster template ``name``, with its scope."""
    obj = templates.get(key_of(namespace, name))
    if obj is not None:
        return obj, "Namespace"
    cobj = cluster_templates.get(name)
    if cobj is not None:
        return cobj, "Cluster"
    return None, None


def resolve_service_template(
    service: Mapping[str, Any],
    images: Lookup,
    cluster_images: Lookup,
    templates: Lookup,
    cluster_templates: Lookup,
    candidates: Sequence[Mapping[str, Any]] = (),
    cluster_candidates: Sequence[Mapping[str, Any]] = (),
    nodes: Iterable[Mapping[str, Any]] | None = None,
) -> TemplateResolution:
    """Resolve the template of ``service`` (see the module docstring).

    ``candidates`` are the namespaced templates of the service's namespace and ``cluster_candidates``
    the cluster templates, both with the service's ``aimImageName`` (only used for derived services
    whose derived template does not exist yet, and as the candidates of the automatic choice).
    ``nodes`` (the cluster's Nodes) enable the automatic choice; without them a service with
    neither ``templateRef`` nor an image default resolves to nothing.
    """
    namespace = namespace_of(service) or ""
    spec = spec_of(service)
    base = base_template_name(service, images, cluster_images)
    overrides = spec.get("overrides")
    choice: TemplateChoice | None = None
    chosen: tuple[Mapping[str, Any], str] | None = None
    if not base and nodes is not None and spec.get("aimImageName"):
        choice = choose_template(
            str(spec["aimImageName"]), candidates, cluster_candidates, nodes, overrides, _current_ref(service)
        )
        if choice.chosen is None:
            return TemplateResolution("", "", overrides is not None, choice=choice)
        base, chosen = choice.chosen.name, (choice.chosen.obj, choice.chosen.scope)
    if overrides is None:
        if not base:
            return TemplateResolution(base, "", False)
        obj, scope = chosen or find_template(namespace, base, templates, cluster_templates)
        return TemplateResolution(base, base, False, obj, scope, choice=choice)

    if not base:
        return TemplateResolution(base, "", True, base_error="base template name is empty")
    final = derived_name(base, overrides)
    base_obj, base_scope = chosen or find_template(namespace, base, templates, cluster_templates)
    expected: dict[str, Any] | None = None
    if base_obj is not None:
        base_spec = spec_of(base_obj)
        expected = derived_spec(base_spec if base_scope == "Namespace" else common_spec(base_spec), spec)

    # a. stay on the template resolved last time while it still fits.
    if expected is not None:
        current = _current(service, namespace, templates, cluster_templates)
        if current is not None and _fits(current[0], current[1], expected):
            return TemplateResolution(
                base, name_of(current[0]), True, current[0], current[1], expected_spec=expected, choice=choice
            )
    # b. the derived template itself.
    own = templates.get(key_of(namespace, final))
    if own is not None:
        return TemplateResolution(base, final, True, own, "Namespace", expected_spec=expected, choice=choice)
    if expected is None:
        return TemplateResolution(base, final, True, base_error=f'base template "{base}" not found')
    # c. an equal template, namespaced first.
    image = expected.get("aimImageName")
    for scope, pool in (("Namespace", candidates), ("Cluster", cluster_candidates)):
        for obj in sorted(pool, key=name_of):
            if dig(obj, "spec", "aimImageName") == image and _fits(obj, scope, expected):
                return TemplateResolution(base, name_of(obj), True, obj, scope, expected_spec=expected, choice=choice)
    # d. create it.
    return TemplateResolution(base, final, True, create=True, expected_spec=expected, choice=choice)


def _fits(obj: Mapping[str, Any], scope: str | None, expected: Mapping[str, Any]) -> bool:
    spec = spec_of(obj)
    if scope == "Namespace":
        return specs_equal(spec, expected)
    return reusable_in_cluster(expected) and specs_equal(common_spec(spec), common_spec(expected))


def _current(
    service: Mapping[str, Any], namespace: str, templates: Lookup, cluster_templates: Lookup
) -> tuple[Mapping[str, Any], str] | None:
    ref = _current_ref(service)
    if ref is None:
        return None
    name, scope = ref
    obj = cluster_templates.get(name) if scope == "Cluster" else templates.get(key_of(namespace, name))
    return (obj, scope) if obj is not None else None


def _current_ref(service: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(name, scope)`` of ``status.resolvedTemplate`` when it names a found template."""
    ref = dig_map(service, "status", "resolvedTemplate")
    name, scope = str(ref.get("name") or ""), str(ref.get("scope") or "")
    return (name, scope) if name and scope in ("Namespace", "Cluster") else None
