"""Image config labels → ``status.imageMetadata`` (pure; as the original operator,
``docs/original-behaviour.md``).

OCI labels (``org.opencontainers.image.*``) fill ``oci``; AMD Silogen labels (``org.amd.silogen.*``)
fill ``model``: comma lists are split, trimmed and emptied of blanks; ``hfToken.required`` accepts Go's
boolean spellings (unparsable values are ignored); ``model.canonicalName`` is required.

``recommendedDeployments`` is parsed as JSON first, then as a Python literal (``ast.literal_eval``:
single quotes, ``True``/``False``/``None`` — never evaluated as code). A single object is treated as a
one-element list. The original swapped every ``'`` for ``"``, which broke on apostrophes in
descriptions (``docs/original-behaviour.md``, fix 12); this does not.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

CANONICAL_NAME = "org.amd.silogen.model.canonicalName"
RECOMMENDED_DEPLOYMENTS = "org.amd.silogen.model.recommendedDeployments"

OCI_LABELS = {
    "title": "org.opencontainers.image.title",
    "description": "org.opencontainers.image.description",
    "licenses": "org.opencontainers.image.licenses",
    "vendor": "org.opencontainers.image.vendor",
    "authors": "org.opencontainers.image.authors",
    "source": "org.opencontainers.image.source",
    "documentation": "org.opencontainers.image.documentation",
    "created": "org.opencontainers.image.created",
    "revision": "org.opencontainers.image.revision",
    "version": "org.opencontainers.image.version",
}
MODEL_TEXT_LABELS = {
    "canonicalName": CANONICAL_NAME,
    "source": "org.amd.silogen.model.source",
    "title": "org.amd.silogen.title",
    "descriptionFull": "org.amd.silogen.description.full",
    "releaseNotes": "org.amd.silogen.release.notes",
}
MODEL_LIST_LABELS = {
    "tags": "org.amd.silogen.model.tags",
    "versions": "org.amd.silogen.model.versions",
    "variants": "org.amd.silogen.model.variants",
}
HF_TOKEN_REQUIRED = "org.amd.silogen.hfToken.required"
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class MetadataError(ValueError):
    """The labels cannot be turned into image metadata (a permanent problem of this image)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_bool(value: str) -> bool | None:
    return True if value in _TRUE else False if value in _FALSE else None


#: Longest ``recommendedDeployments`` label parsed (characters): a label is image-author input, and
#: parsing a Python literal costs far more than its size.
MAX_RECOMMENDED_DEPLOYMENTS_CHARS = 64 << 10


def parse_recommended_deployments(text: str) -> list[dict[str, Any]]:
    """JSON, then a Python literal; a single object becomes a list; raise ``ValueError`` otherwise
    (also for a label longer than :data:`MAX_RECOMMENDED_DEPLOYMENTS_CHARS` or nested too deeply)."""
    stripped = text.strip()
    if not stripped:
        return []
    if len(stripped) > MAX_RECOMMENDED_DEPLOYMENTS_CHARS:
        raise ValueError(f"longer than {MAX_RECOMMENDED_DEPLOYMENTS_CHARS} characters")
    try:
        value: Any = json.loads(stripped)
    except RecursionError as err:
        raise ValueError("nested too deeply") from err
    except ValueError:
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError) as err:
            raise ValueError("neither JSON nor a Python literal") from err
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError("not a list of objects")
    return [dict(v) for v in value]


def image_metadata(labels: Mapping[str, str]) -> dict[str, Any]:
    """``status.imageMetadata`` (JSON form) from config labels; raise :class:`MetadataError`."""
    if not labels.get(CANONICAL_NAME, "").strip():
        raise MetadataError("MetadataMissingLabel", f'missing required image label "{CANONICAL_NAME}"')
    oci = {field: labels[label] for field, label in OCI_LABELS.items() if labels.get(label)}
    model: dict[str, Any] = {field: labels[label] for field, label in MODEL_TEXT_LABELS.items() if labels.get(label)}
    for field, label in MODEL_LIST_LABELS.items():
        if labels.get(label):
            model[field] = split_list(labels[label])
    if HF_TOKEN_REQUIRED in labels:
        flag = parse_bool(labels[HF_TOKEN_REQUIRED].strip())
        if flag is not None:
            model["hfTokenRequired"] = flag
    if labels.get(RECOMMENDED_DEPLOYMENTS):
        try:
            deployments = parse_recommended_deployments(labels[RECOMMENDED_DEPLOYMENTS])
        except ValueError as err:
            raise MetadataError(
                "MetadataInvalidLabel", f'image label "{RECOMMENDED_DEPLOYMENTS}" is not a list of objects: {err}'
            ) from err
        model["recommendedDeployments"] = deployments
    # The pydantic model is imported here, on the first image, not with the operator (aimctl.api.enums).
    from aimctl.api.imagemetadata import ImageMetadata

    try:
        meta = ImageMetadata.model_validate({"model": model, "oci": oci or None})
    except ValueError as err:
        raise MetadataError("MetadataInvalidLabel", f"image labels do not fit the API: {err}") from err
    return meta.to_dict()
