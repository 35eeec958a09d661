"""Image metadata extracted from OCI labels, stored in ``AIMImage.status.imageMetadata``.

The label parser (another module) fills these; here they are plain data. ``recommendedDeployments``
keeps ``precision`` and ``metric`` as free strings, exactly as the image label carries them: an image
that recommends an unknown precision must not make the status write fail.
"""

from __future__ import annotations

from aimctl.api.base import APIModel, Int32

__all__ = ["ImageMetadata", "ModelMetadata", "OCIMetadata", "RecommendedDeployment"]


class RecommendedDeployment(APIModel):
    """RecommendedDeployment describes a recommended deployment configuration for a model."""

    gpu_model: str | None = None
    """GPUModel is the GPU model name (e.g., MI300X, MI325X)"""
    gpu_count: Int32 | None = None
    """GPUCount is the number of GPUs required"""
    precision: str | None = None
    """Precision is the recommended precision (e.g., fp8, fp16, bf16)"""
    metric: str | None = None
    """Metric is the optimization target (e.g., latency, throughput)"""
    description: str | None = None
    """Description provides additional context about this deployment configuration"""


class ModelMetadata(APIModel):
    """ModelMetadata contains AMD Silogen model-specific metadata extracted from image labels."""

    canonical_name: str | None = None
    """CanonicalName is the canonical model identifier (e.g., mistralai/Mixtral-8x22B-Instruct-v0.1).
    Extracted from: org.amd.silogen.model.canonicalName"""
    source: str | None = None
    """Source is the URL where the model can be found. Extracted from: org.amd.silogen.model.source"""
    tags: list[str] | None = None
    """Tags are descriptive tags (e.g., ["text-generation", "chat", "instruction"]). Extracted from:
    org.amd.silogen.model.tags (comma-separated)"""
    versions: list[str] | None = None
    """Versions lists available versions. Extracted from: org.amd.silogen.model.versions
    (comma-separated)"""
    variants: list[str] | None = None
    """Variants lists model variants. Extracted from: org.amd.silogen.model.variants (comma-separated)"""
    hf_token_required: bool | None = None
    """HFTokenRequired indicates if a HuggingFace token is required. Extracted from:
    org.amd.silogen.hfToken.required"""
    title: str | None = None
    """Title is the Silogen-specific title for the model. Extracted from: org.amd.silogen.title"""
    description_full: str | None = None
    """DescriptionFull is the full description. Extracted from: org.amd.silogen.description.full"""
    release_notes: str | None = None
    """ReleaseNotes contains release notes for this version. Extracted from: org.amd.silogen.release.notes"""
    recommended_deployments: list[RecommendedDeployment] | None = None
    """RecommendedDeployments contains recommended deployment configurations. Extracted from:
    org.amd.silogen.model.recommendedDeployments (parsed from JSON array)"""


class OCIMetadata(APIModel):
    """OCIMetadata contains standard OCI image metadata extracted from image labels."""

    title: str | None = None
    """Title is the human-readable title. Extracted from: org.opencontainers.image.title"""
    description: str | None = None
    """Description is a brief description. Extracted from: org.opencontainers.image.description"""
    licenses: str | None = None
    """Licenses is the SPDX license identifier(s). Extracted from: org.opencontainers.image.licenses"""
    vendor: str | None = None
    """Vendor is the organization that produced the image. Extracted from: org.opencontainers.image.vendor"""
    authors: str | None = None
    """Authors is contact details of the authors. Extracted from: org.opencontainers.image.authors"""
    source: str | None = None
    """Source is the URL to the source code repository. Extracted from: org.opencontainers.image.source"""
    documentation: str | None = None
    """Documentation is the URL to documentation. Extracted from: org.opencontainers.image.documentation"""
    created: str | None = None
    """Created is the creation timestamp. Extracted from: org.opencontainers.image.created"""
    revision: str | None = None
    """Revision is the source control revision. Extracted from: org.opencontainers.image.revision"""
    version: str | None = None
    """Version is the image version. Extracted from: org.opencontainers.image.version"""


class ImageMetadata(APIModel):
    """ImageMetadata contains metadata extracted from or provided for a container image."""

    model: ModelMetadata | None = None
    """Model contains AMD Silogen model-specific metadata."""
    oci: OCIMetadata | None = None
    """OCI contains standard OCI image metadata."""
