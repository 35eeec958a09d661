"""AIM controllers: one module per kind, all running the pipeline of :mod:`aimctl.controllers.base`."""
