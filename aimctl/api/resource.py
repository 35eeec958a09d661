"""Bases of the top-level kinds and their lists: ``apiVersion``, ``kind``, ``metadata``.

Each kind's module declares ``kind`` (a ``Literal`` with the kind name as default), ``spec`` and
``status``; the registry in :mod:`aimctl.api.kinds` ties the model to its plural, scope and printer
columns. In the CRD schema ``apiVersion`` and ``kind`` are plain strings and ``metadata`` is
``type: object`` (the apiserver owns their validation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aimctl.api.base import APIModel
from aimctl.api.meta import ListMeta, ObjectMeta

__all__ = ["AIMResource", "AIMResourceList"]


class AIMResource(APIModel):
    """Common envelope of every AIM object."""

    api_version: Literal["aim.silogen.ai/v1alpha1"] = "aim.silogen.ai/v1alpha1"
    """APIVersion defines the versioned schema of this representation of an object. Servers should
    convert recognized schemas to the latest internal value, and may reject unrecognized values."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""

    @property
    def name(self) -> str:
        """``metadata.name`` (empty when unset)."""
        return self.metadata.name or ""

    @property
    def namespace(self) -> str | None:
        """``metadata.namespace`` (``None`` for cluster-scoped objects)."""
        return self.metadata.namespace


class AIMResourceList(APIModel):
    """Common envelope of every AIM list."""

    api_version: Literal["aim.silogen.ai/v1alpha1"] = "aim.silogen.ai/v1alpha1"
    """APIVersion defines the versioned schema of this representation of an object."""
    metadata: ListMeta = Field(default_factory=ListMeta)
    """Standard list metadata."""
