"""KServe's own controller manager in the development cluster: build, configuration and webhooks.

The InferenceServices the operator writes are handled by KServe itself, not by a stand-in: its
admission webhooks default and validate them, its controller turns them into Deployments and Services
(Standard mode, formerly RawDeployment: no Knative, no Istio) and reports their readiness, and its
``modelStatus.lastFailureInfo`` comes from the predictor pods' container states (kwok pods here).

Build. ``github.com/kserve/kserve`` has ``replace`` and ``exclude`` directives in its go.mod, which Go
ignores in a dependency. As for Kubernetes (:mod:`aimctl.devcluster.build`), a small generated module
requires ``github.com/kserve/kserve`` at :data:`aimctl.devcluster.versions.KSERVE` and repeats those
directives (:func:`kserve_build_gomod`), then builds ``cmd/manager``. The binary is cached beside the
Kubernetes binaries, keyed by version: ``$AIMCTL_CACHE_DIR/k8s/kserve-<version>/kserve-manager``. A
cold build takes several minutes on two cores; ``AIMCTL_KSERVE_BINARY`` points at a prebuilt manager.

Configuration (:func:`inferenceservice_config`). KServe's own ``config/configmap/inferenceservice.yaml``
from the same module, with only what this cluster needs changed (see :data:`CONFIG_CHANGES`).

Webhooks (:func:`webhook_configurations`). KServe's own ``config/webhook/manifests.yaml``, with each
``clientConfig.service`` (a Service in front of the manager's pod in a real install, its CA injected by
cert-manager) replaced by a URL on loopback and the cluster CA as ``caBundle``; the manager serves
with a certificate from the cluster's PKI (:mod:`aimctl.devcluster.pki`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import yaml

from aimctl.devcluster import versions
from aimctl.devcluster.build import cache_root
from aimctl.devcluster.gobuild import GoError, module_dir, module_download, run_go
from aimctl.kube.objects import dig, dig_list, name_of

MODULE: Final = "github.com/kserve/kserve"
MANAGER_PACKAGE: Final = f"{MODULE}/cmd/manager"
BINARY_NAME: Final = "kserve-manager"
#: The namespace KServe reads its configuration from (its ``POD_NAMESPACE``).
NAMESPACE: Final = "kserve"
CONFIGMAP_NAME: Final = "inferenceservice-config"
#: CRDs the manager watches or validates, besides InferenceService, ServingRuntime and
#: ClusterServingRuntime (which the cluster always installs). LLMInferenceService has its own manager.
CRD_FILES: Final = (
    "config/crd/full/serving.kserve.io_inferenceservices.yaml",
    "config/crd/full/serving.kserve.io_servingruntimes.yaml",
    "config/crd/full/serving.kserve.io_clusterservingruntimes.yaml",
    "config/crd/full/serving.kserve.io_inferencegraphs.yaml",
    "config/crd/full/serving.kserve.io_trainedmodels.yaml",
    "config/crd/full/serving.kserve.io_clusterstoragecontainers.yaml",
    "config/crd/full/serving.kserve.io_localmodelcaches.yaml",
    "config/crd/full/serving.kserve.io_localmodelnodegroups.yaml",
    "config/crd/full/serving.kserve.io_localmodelnodes.yaml",
)
CONFIGMAP_FILE: Final = "config/configmap/inferenceservice.yaml"
WEBHOOK_FILE: Final = "config/webhook/manifests.yaml"

#: The only changes to KServe's default ``inferenceservice-config``: data key → JSON fields set, with why.
CONFIG_CHANGES: Final[dict[str, tuple[dict[str, Any], str]]] = {
    "deploy": (
        {"defaultDeploymentMode": "Standard"},
        "KServe's default is Serverless, which needs Knative Serving; this cluster has no Knative, so "
        "InferenceServices become plain Deployments and Services (Standard, formerly RawDeployment), "
        "as on the AIM operator's supported clusters.",
    ),
}

_DIRECTIVE_BLOCK = re.compile(r"^(replace|exclude)\s*\(\n(.*?)^\)", re.MULTILINE | re.DOTALL)
_DIRECTIVE_LINE = re.compile(r"^(replace|exclude)\s+([^(\s].*)$", re.MULTILINE)


class KServeError(RuntimeError):
    """KServe could not be built, configured or found; the message says what to do."""


# ------------------------------------------------------------------ build
def default_binary_path() -> Path:
    """Where the manager of the pinned version is cached (beside the Kubernetes binaries)."""
    return cache_root() / "k8s" / f"kserve-{versions.KSERVE}" / BINARY_NAME


def module_directives(gomod: str) -> list[str]:
    """The ``replace`` and ``exclude`` directives of a go.mod, one per entry (blocks flattened).

    A ``replace`` by a local path (``=> ./x``) cannot be repeated outside the module: an error says so.
    """
    body = re.sub(r"//.*", "", gomod)
    out: list[str] = []
    for kind, block in _DIRECTIVE_BLOCK.findall(body):
        out += [f"{kind} {line.strip()}" for line in block.splitlines() if line.strip()]
    body = _DIRECTIVE_BLOCK.sub("", body)
    out += [f"{kind} {rest.strip()}" for kind, rest in _DIRECTIVE_LINE.findall(body)]
    for d in out:
        if d.startswith("replace") and re.search(r"=>\s*\.{1,2}/", d):
            raise KServeError(
                f"{MODULE}'s go.mod replaces a module by a local path ({d}); it cannot be built as a dependency"
            )
    return out


def kserve_build_gomod(kserve_gomod: str, version: str = versions.KSERVE) -> str:
    """The go.mod of the build module: requires KServe and repeats its ``replace``/``exclude`` lines."""
    go_line = re.search(r"^go\s+(\S+)", kserve_gomod, re.MULTILINE)
    directives = "\n".join(module_directives(kserve_gomod))
    return (
        "module aimctl.local/kservebuild\n\n"
        f"go {go_line.group(1) if go_line else '1.24.0'}\n\n"
        f"require {MODULE} {version}\n\n"
        f"{directives}\n"
    )


def build_manager(out: Path, log: Callable[[str], None] = print) -> None:
    """Build KServe's controller manager into ``out`` (atomically; ``nice`` keeps a shared machine usable)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"building KServe {versions.KSERVE} controller manager ...")
    gomod = Path(module_download(MODULE, versions.KSERVE)["GoMod"]).read_text()
    with tempfile.TemporaryDirectory(prefix="kserve-build.", dir=out.parent) as tmp:
        work = Path(tmp)
        (work / "go.mod").write_text(kserve_build_gomod(gomod))
        (work / "tools.go").write_text(f'//go:build tools\n\npackage tools\n\nimport _ "{MANAGER_PACKAGE}"\n')
        run_go(["mod", "tidy"], cwd=work, nice=10)
        partial = work / BINARY_NAME
        run_go(["build", "-ldflags", "-s -w", "-o", str(partial), MANAGER_PACKAGE], cwd=work, nice=10)
        if not partial.exists():
            raise GoError(f"go build finished without producing {BINARY_NAME}")
        partial.replace(out)
    log(f"built {BINARY_NAME} into {out} in {time.monotonic() - started:.0f} s")


def manager_path() -> Path:
    """Where the manager is: ``$AIMCTL_KSERVE_BINARY`` if set, else the cache (nothing is built)."""
    prebuilt = os.environ.get("AIMCTL_KSERVE_BINARY")
    if prebuilt:
        return Path(shutil.which(prebuilt) or prebuilt).expanduser().resolve()
    return default_binary_path()


def ensure_manager(log: Callable[[str], None] = print) -> Path:
    """KServe's manager: ``$AIMCTL_KSERVE_BINARY`` if set, else the cached build (built when absent)."""
    prebuilt = os.environ.get("AIMCTL_KSERVE_BINARY")
    if prebuilt:
        found = manager_path()
        if not os.access(found, os.X_OK):
            raise KServeError(
                f"AIMCTL_KSERVE_BINARY={prebuilt} is not an executable: point it at a KServe {versions.KSERVE} "
                f"controller manager (cmd/manager), or unset it to build one"
            )
        return found
    path = default_binary_path()
    if not os.access(path, os.X_OK):
        build_manager(path, log)
    return path


# ------------------------------------------------------------------ objects from the module
def crd_files() -> list[Path]:
    """Every CRD the manager needs, from the KServe module at the pinned version."""
    root = module_dir(MODULE, versions.KSERVE)
    return [root / f for f in CRD_FILES]


def _module_yaml(rel: str) -> list[dict[str, Any]]:
    text = (module_dir(MODULE, versions.KSERVE) / rel).read_text()
    return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]


def apply_config_changes(configmap: dict[str, Any]) -> dict[str, Any]:
    """KServe's default ConfigMap with :data:`CONFIG_CHANGES` applied, each explained in an annotation."""
    cm = copy.deepcopy(configmap)
    data = cm.setdefault("data", {})
    notes: dict[str, str] = {}
    for key, (fields, why) in CONFIG_CHANGES.items():
        try:
            current = json.loads(data.get(key) or "{}")
        except json.JSONDecodeError as e:
            raise KServeError(f"KServe's {CONFIGMAP_FILE} has data.{key} that is not JSON: {e}") from e
        current.update(fields)
        data[key] = json.dumps(current, indent=2)
        notes[key] = why
    meta = cm.setdefault("metadata", {})
    meta["namespace"] = NAMESPACE
    meta.pop("creationTimestamp", None)
    meta.setdefault("annotations", {})["aimctl.dev/changed-from-kserve-defaults"] = json.dumps(notes, indent=1)
    return cm


def inferenceservice_config() -> dict[str, Any]:
    """The ``inferenceservice-config`` ConfigMap: KServe's defaults plus :data:`CONFIG_CHANGES`."""
    for doc in _module_yaml(CONFIGMAP_FILE):
        if doc.get("kind") == "ConfigMap" and name_of(doc) == CONFIGMAP_NAME:
            return apply_config_changes(doc)
    raise KServeError(f"{MODULE}@{versions.KSERVE} has no ConfigMap {CONFIGMAP_NAME} in {CONFIGMAP_FILE}")


def webhooks_by_url(configurations: list[dict[str, Any]], port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """KServe's webhook configurations calling ``https://127.0.0.1:<port><path>`` with ``ca_pem`` as CA.

    Everything else (rules, selectors, failure policies, review versions) stays as KServe ships it.
    """
    ca_bundle = base64.b64encode(ca_pem).decode()
    out = []
    for conf in configurations:
        if conf.get("kind") not in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            continue
        conf = copy.deepcopy(conf)
        conf["metadata"] = {"name": conf["metadata"]["name"], "labels": {"app.kubernetes.io/part-of": "kserve"}}
        for hook in dig_list(conf, "webhooks"):
            path = dig(hook, "clientConfig", "service", "path")
            if not path:
                raise KServeError(f"webhook {hook.get('name')} in {WEBHOOK_FILE} has no clientConfig.service.path")
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": ca_bundle}
        out.append(conf)
    return out


def webhook_configurations(port: int, ca_pem: bytes) -> list[dict[str, Any]]:
    """KServe's webhook configurations from its module, pointed at the local manager."""
    return webhooks_by_url(_module_yaml(WEBHOOK_FILE), port, ca_pem)
