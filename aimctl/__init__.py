"""aimctl: a Kubernetes operator for AMD Inference Microservices (``aim.silogen.ai/v1alpha1``).

Sub-packages, by layer (``docs/architecture.md``, "Layers and import direction"):

* ``aimctl.api`` — pydantic models of the API and CRD generation;
* ``aimctl.kube`` — the Kubernetes client layer (server-side apply, status, events);
* ``aimctl.controllers`` — one controller per kind: observation, effects;
* ``aimctl.devcluster`` — the local development cluster (real Kubernetes built from Go modules);
* ``aimctl.cli`` — the ``aimctl`` command.
"""

__version__ = "0.1.0"
