"""AIMModelCache: one model source downloaded into a PVC.

``sourceUri`` is the cache's identity: it must be an ``hf://`` or ``s3://`` URI without whitespace and
cannot change after creation. ``modelDownloadImage`` defaults to the KServe storage initializer the
original operator used.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int64, Time
from aimctl.api.core import EnvList, PullSecretList
from aimctl.api.enums import DEFAULT_MODEL_DOWNLOAD_IMAGE, AIMModelCacheStatusEnum
from aimctl.api.markers import immutable
from aimctl.api.meta import Conditions
from aimctl.api.quantity import Quantity
from aimctl.api.resource import AIMResource, AIMResourceList

__all__ = [
    "DEFAULT_MODEL_DOWNLOAD_IMAGE",
    "MODEL_SOURCE_URI_PATTERN",
    "AIMModelCache",
    "AIMModelCacheList",
    "AIMModelCacheSpec",
    "AIMModelCacheStatus",
    "AIMModelCacheStatusEnum",
]

MODEL_SOURCE_URI_PATTERN = r"^(hf|s3)://[^ \t\r\n]+$"


class AIMModelCacheSpec(APIModel):
    """AIMModelCacheSpec defines the desired state of AIMModelCache"""

    source_uri: Annotated[str, Field(min_length=1, pattern=MODEL_SOURCE_URI_PATTERN), immutable("sourceUri")]
    """SourceURI is the source of the model to be downloaded. This is the only identifier"""
    storage_class_name: str | None = None
    """StorageClassName specifies the storage class for the cache volume"""
    size: Quantity
    """Size specifies the size of the cache volume"""
    env: EnvList | None = None
    """Env lists the environment variables to use for authentication when downloading models. These
    variables are used for authentication with model registries (e.g., HuggingFace tokens)."""
    model_download_image: str = DEFAULT_MODEL_DOWNLOAD_IMAGE
    """ModelDownloadImage is the image used to download the model"""
    image_pull_secrets: PullSecretList | None = None
    """ImagePullSecrets references secrets for pulling AIM container images."""


class AIMModelCacheStatus(APIModel):
    """AIMModelCacheStatus defines the observed state of AIMModelCache"""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the most recent generation observed by the controller."""
    conditions: Conditions | None = None
    """Conditions represent the latest available observations of the model cache's state"""
    status: AIMModelCacheStatusEnum = AIMModelCacheStatusEnum.PENDING
    """Status represents the current status of the model cache"""
    last_used: Time | None = None
    """LastUsed represents the last time a model was deployed that used this cache"""
    persistent_volume_claim: str | None = None
    """PersistentVolumeClaim represents the name of the created PVC"""


class AIMModelCache(AIMResource):
    """AIMModelCache is the Schema for the modelcaches API"""

    kind: Literal["AIMModelCache"] = "AIMModelCache"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMModelCacheSpec
    """AIMModelCacheSpec defines the desired state of AIMModelCache"""
    status: AIMModelCacheStatus | None = None
    """AIMModelCacheStatus defines the observed state of AIMModelCache"""


class AIMModelCacheList(AIMResourceList):
    """AIMModelCacheList contains a list of AIMModelCache"""

    kind: Literal["AIMModelCacheList"] = "AIMModelCacheList"
    items: list[AIMModelCache]
