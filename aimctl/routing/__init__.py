"""HTTP routing of AIMServices: route-template rendering and path rules (pure).

* :mod:`aimctl.routing.render` — ``{expr}`` placeholders evaluated against the AIMService with JSONPath;
* :mod:`aimctl.routing.path` — the path rules every rendered path must satisfy;
* :mod:`aimctl.routing.settings` — the effective routing settings (service first, then runtime config).
"""
