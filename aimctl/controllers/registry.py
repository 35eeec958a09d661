"""Every AIM controller, wired for one manager: the one list ``aimctl run`` registers."""

from __future__ import annotations

from aimctl.controllers.derived_templates import DerivedTemplateCollector
from aimctl.controllers.discovery_slots import DiscoverySlots
from aimctl.controllers.image import ImageController
from aimctl.controllers.modelcache import ModelCacheController
from aimctl.controllers.runtimeconfig import RuntimeConfigController
from aimctl.controllers.service import ServiceController
from aimctl.controllers.template import TemplateController
from aimctl.controllers.templatecache import TemplateCacheController
from aimctl.kube.resources import JOBS
from aimctl.manager import Manager
from aimctl.reconcile import Controller


def controllers(manager: Manager) -> list[Controller]:
    """Runtime configs, templates (sharing the discovery-Job cap) and images (both scopes of each),
    model caches, template caches and services, and the collector of derived templates nobody uses."""
    slots = DiscoverySlots(manager.cache.informer(JOBS).store)
    return [
        RuntimeConfigController(manager, namespaced=True),
        RuntimeConfigController(manager, namespaced=False),
        TemplateController(manager, cluster_scoped=False, slots=slots),
        TemplateController(manager, cluster_scoped=True, slots=slots),
        ImageController(manager, cluster_scoped=False),
        ImageController(manager, cluster_scoped=True),
        ModelCacheController(manager),
        TemplateCacheController(manager),
        ServiceController(manager),
        DerivedTemplateCollector(manager),
    ]
