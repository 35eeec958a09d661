"""Deterministic, RFC 1123 names and sanitised label values (pure; bit-exact with the original operator).

Users' dashboards, scripts and existing clusters rely on child names, so the original operator's
schemes (``docs/original-behaviour.md``) are reproduced exactly, including their quirks
(a trailing ``.`` can survive :func:`rfc1123`). Every label value aimctl writes goes through
:func:`label_value` (a fix: the original left some unsanitised).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any

_NOT_DNS = re.compile(r"[^a-z0-9.-]+")
_SEP_RUNS = re.compile(r"[-.]{2,}")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 63


def rfc1123(name: str) -> str:
    """Lowercase; non ``[a-z0-9.-]`` runs → ``-``; trim ``-.``; collapse ``[-.]{2,}`` → ``-``; cut to
    63; trim trailing ``-``."""
    s = _NOT_DNS.sub("-", name.lower()).strip("-.")
    s = _SEP_RUNS.sub("-", s)
    return s[:MAX_NAME].rstrip("-")


def with_suffix(name: str, *parts: str) -> str:
    """``name-part1-part2…`` made RFC 1123 (empty parts are skipped)."""
    return rfc1123("-".join([name, *[p for p in parts if p]]))


def label_value(value: str) -> str:
    """A valid label value: runs outside ``[A-Za-z0-9._-]`` → ``_``; trim ``_.-``; cut to 63 and trim
    again; ``unknown`` if nothing is left."""
    s = _NOT_LABEL.sub("_", value).strip("_.-")
    s = s[:MAX_NAME].rstrip("_.-")
    return s or "unknown"


def sha256_hex(text: str, length: int = 8) -> str:
    """The first ``length`` hex characters of SHA-256 over ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def compact_json(value: Any) -> str:
    """Go's ``json.Marshal`` layout: no spaces, keys in the given (insertion) order, no HTML escaping."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def discovery_job_name(template_name: str, aim_image_name: str, image_uri: str) -> str:
    """``discover-<template[:45]>-<sha256(aimImageName + image)[:8]>`` (at most 63 characters).

    A fix over the original: when the template name is longer than 45 characters, the hash also covers
    the full template name. The original hashed only the image, so templates of one image whose names
    share their first 45 characters (``<long-image>-mi300x-x1-latency-fp8`` and ``...-throughput-fp8``,
    auto-created side by side) got the same Job, and the second one's apply failed as immutable.
    Names of templates up to 45 characters are unchanged.
    """
    key = aim_image_name + image_uri
    if len(template_name) > 45:
        key = template_name + "\x00" + key
    return rfc1123(f"discover-{template_name[:45]}-{sha256_hex(key)}")


def derived_template_name(base: str, overrides: dict[str, Any]) -> str:
    """``<base[:50] without trailing '-'>-ovr-<sha256(compact JSON of overrides)[:8]>``.

    ``overrides`` must already be in the API's field order (``metric``, ``precision``,
    ``gpuSelector{count, model}``) with unset fields omitted, as the original hashed it.
    """
    cut = base.strip()[: MAX_NAME - 13]
    trimmed = cut.rstrip("-") or cut
    return f"{trimmed}-ovr-{sha256_hex(compact_json(overrides))}"


def auto_template_name(image_name: str, gpu_model: str, gpu_count: int, metric: str, precision: str) -> str:
    """Name of a template auto-created from an image's recommended deployment, e.g.
    ``llama-3-8b-mi300x-x1-latency-fp8``."""
    return with_suffix(image_name, gpu_model, f"x{gpu_count}" if gpu_count > 0 else "", metric, precision)


def model_cache_pvc_name(cache_name: str) -> str:
    return rfc1123(f"{cache_name}-cache")


def model_cache_job_name(cache_name: str) -> str:
    return rfc1123(f"{cache_name}-cache-download")


# -- the InferenceService of an AIMService ----------------------------------------------------------
#
# KServe v0.16.0 derives objects and hostnames from an InferenceService's name (see
# docs/long-names.md for the sources):
#
# * the name itself must match ``[a-z]([-a-z0-9]*[a-z0-9])?`` (its validating webhook, ``IsvcNameFmt``);
# * the predictor's Service, Deployment and autoscaler are ``<isvc>-predictor``
#   (``constants.PredictorServiceName``); a Service name is a DNS-1035 label, at most 63 characters;
# * in RawDeployment mode the predictor's URL host is rendered from the ingress ``domainTemplate``,
#   by default ``{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}`` with ``.Name = <isvc>-predictor``,
#   and must be a valid DNS name: its first label ``<isvc>-predictor-<namespace>`` at most 63
#   characters (kserve/kserve#4807). KServe then fails the InferenceService ("failed creating host name").

#: KServe's suffix of the predictor component's objects.
PREDICTOR_SUFFIX = "-predictor"
#: Longest InferenceService name whose ``<isvc>-predictor`` Service name fits a DNS label.
MAX_ISVC_NAME = MAX_NAME - len(PREDICTOR_SUFFIX)
#: Hash characters of a shortened InferenceService name.
ISVC_HASH_LENGTH = 8
#: Shortest shortened name: one character of the service name, ``-`` and the hash.
MIN_SHORT_ISVC_NAME = 1 + 1 + ISVC_HASH_LENGTH
_ISVC_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


#: KServe's default ingress ``domainTemplate`` (``DefaultDomainTemplate``).
DEFAULT_DOMAIN_TEMPLATE = "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}"
_TEMPLATE_FIELD = re.compile(r"\{\{-?\s*\.(\w+)\s*-?\}\}")
_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}")


def predictor_host(isvc_name: str, namespace: str, domain_template: str = DEFAULT_DOMAIN_TEMPLATE) -> str:
    """The predictor's host as KServe renders it (``.Name`` = ``<isvc>-predictor``), with the ingress
    domain ``example.com``; template actions other than ``.Name``, ``.Namespace`` and
    ``.IngressDomain`` (labels, annotations) render empty."""
    values = {"Name": isvc_name + PREDICTOR_SUFFIX, "Namespace": namespace, "IngressDomain": "example.com"}
    host = _TEMPLATE_FIELD.sub(lambda m: values.get(m.group(1), ""), domain_template)
    return _TEMPLATE_ACTION.sub("", host)


@functools.lru_cache(maxsize=4096)
def isvc_name_limit(namespace: str, domain_template: str = DEFAULT_DOMAIN_TEMPLATE) -> int:
    """The longest InferenceService name KServe accepts in ``namespace``: ``<isvc>-predictor`` at most
    63 characters and every label of the predictor's host (by default ``<isvc>-predictor-<namespace>``)
    at most 63; -1 when even an empty name would not fit. Memoised (pure, per namespace and template:
    it renders the host up to 64 times, and every service reconcile asks)."""
    for length in range(MAX_ISVC_NAME, -1, -1):
        if all(len(label) <= MAX_NAME for label in predictor_host("x" * length, namespace, domain_template).split(".")):
            return length
    return -1


def isvc_name_fits(name: str, namespace: str, domain_template: str = DEFAULT_DOMAIN_TEMPLATE) -> bool:
    """KServe can serve an InferenceService of this name in ``namespace`` (see the rules above)."""
    return bool(_ISVC_NAME.match(name)) and len(name) <= isvc_name_limit(namespace, domain_template)


class IsvcNameError(ValueError):
    """No InferenceService name can meet KServe's rule in this namespace: the message names the limit
    and the ways out."""


def inference_service_name(service_name: str, namespace: str, domain_template: str = DEFAULT_DOMAIN_TEMPLATE) -> str:
    """The InferenceService name of AIMService ``namespace/service_name``.

    A name KServe can serve (:func:`isvc_name_fits`) is used unchanged — every such service keeps the
    InferenceService it has always had. Any other gets a deterministic shortened form,
    ``<prefix>-<sha256(service name)[:8]>``: the service name made a DNS-1035 label (lowercase, runs of
    other characters → ``-``, a leading digit or ``-`` dropped), cut so the whole fits
    :func:`isvc_name_limit`. Two names that share a long prefix differ in their hash.

    Raises :class:`IsvcNameError` when the namespace alone leaves less than
    :data:`MIN_SHORT_ISVC_NAME` characters (``<isvc>-predictor-<namespace>`` cannot fit whatever the
    service is called) and the name is not short enough as it is. ``domain_template`` is KServe's
    ingress ``domainTemplate`` (the operator's ``AIMCTL_KSERVE_DOMAIN_TEMPLATE``).
    """
    if isvc_name_fits(service_name, namespace, domain_template):
        return service_name
    limit = isvc_name_limit(namespace, domain_template)
    if limit < MIN_SHORT_ISVC_NAME:
        raise IsvcNameError(
            f'KServe derives the host label "<name>{PREDICTOR_SUFFIX}-<namespace>" from the InferenceService name, '
            f'and a DNS label holds at most {MAX_NAME} characters; namespace "{namespace}" '
            f"({len(namespace)} characters) leaves {max(limit, 0)} for the name, too few for "
            f'"{service_name}" ({len(service_name)}) or a shortened form ({MIN_SHORT_ISVC_NAME}). '
            "Use a namespace of at most "
            f"{MAX_NAME - len(PREDICTOR_SUFFIX) - 1 - MIN_SHORT_ISVC_NAME} characters, or set KServe's "
            "ingress domainTemplate (ConfigMap inferenceservice-config) to one that keeps the name and "
            'namespace in separate labels, e.g. "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}", '
            "and give the operator the same template in AIMCTL_KSERVE_DOMAIN_TEMPLATE"
        )
    digest = sha256_hex(service_name, ISVC_HASH_LENGTH)
    prefix = _NOT_DNS.sub("-", service_name.lower()).replace(".", "-")
    prefix = _SEP_RUNS.sub("-", prefix).lstrip("-0123456789")
    prefix = prefix[: limit - 1 - ISVC_HASH_LENGTH].rstrip("-")
    return f"{prefix}-{digest}" if prefix else f"s{digest}"
