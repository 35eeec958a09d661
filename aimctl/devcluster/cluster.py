"""The development cluster: one object that brings real Kubernetes up and down on loopback.

``DevCluster(name).up()`` is idempotent: it builds the binaries if the cache lacks them, creates the
certificates and kubeconfigs once, starts whatever component is not running, waits until each is
healthy, installs the upstream CRDs and registers the simulated nodes. ``down()`` stops the
processes and keeps the data directory, so objects survive a restart; ``destroy()`` also deletes it.
The CLI, the pytest fixtures and the benchmarks all use this class.

``audit_log=True`` (or ``AIMCTL_DEV_AUDIT_LOG=1`` in the environment) makes the apiserver write an
audit log of every write to :attr:`DevCluster.audit_log_file` (see
:class:`aimctl.devcluster.components.AuditLog`); tests read it to learn who wrote what and when.
Without it the apiserver's command line is unchanged.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aimctl.devcluster import components, kserve, process
from aimctl.devcluster.build import Binaries, ensure_binaries
from aimctl.devcluster.kubeconfig import render_kubeconfig, write_kubeconfig
from aimctl.devcluster.layout import Layout
from aimctl.devcluster.nodes import load_node_specs, node_manifest
from aimctl.devcluster.pki import ensure_pki
from aimctl.devcluster.progress import terminal_redraw
from aimctl.devcluster.rest import Rest, RestError
from aimctl.devcluster.upstream_crds import load_crds, upstream_crd_files
from aimctl.kube.objects import conditions_of

#: Component → (certificate stem, user name) of its kubeconfig.
_COMPONENT_USERS = {
    "kube-controller-manager": ("kube-controller-manager", "system:kube-controller-manager"),
    "kube-scheduler": ("kube-scheduler", "system:kube-scheduler"),
    "kwok": ("kwok", "kwok-controller"),
    "kserve-manager": ("kserve", "kserve-controller-manager"),
}


class ClusterError(RuntimeError):
    """The cluster could not be brought to the requested state; the message says why and where to look."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    healthy: bool


def _insecure_ctx() -> ssl.SSLContext:
    # kube-controller-manager, kube-scheduler and kwok serve /healthz with self-signed certificates.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class DevCluster:
    """A named local cluster (``dev`` for people, ``test`` for the test suite)."""

    def __init__(
        self,
        name: str = "dev",
        port_base: int | None = None,
        nodes_file: Path | None = None,
        log: Callable[[str], None] = print,
        kserve: bool = True,
        audit_log: bool | None = None,
    ) -> None:
        self.layout = Layout.for_name(name, port_base)
        #: Whether KServe's controller manager and webhooks run (its CRDs are installed either way).
        #: Off only for a cluster that plays one where KServe is not installed yet.
        self.with_kserve = kserve
        if audit_log is None:
            audit_log = os.environ.get("AIMCTL_DEV_AUDIT_LOG", "") not in ("", "0")
        self.audit_log = audit_log
        self.nodes_file = nodes_file
        self.log = log
        self._binaries: Binaries | None = None
        self._kserve_manager: Path | None = None

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    @property
    def server(self) -> str:
        return self.layout.server

    @property
    def etcd_endpoint(self) -> str:
        return self.layout.etcd_endpoint

    @property
    def audit_log_file(self) -> Path:
        """Where the apiserver writes its audit log when ``audit_log`` is on (JSON lines)."""
        return self.layout.logs / "audit.log"

    def _audit(self) -> components.AuditLog | None:
        if not self.audit_log:
            return None
        policy = self.layout.config / "audit-policy.yaml"
        policy.parent.mkdir(parents=True, exist_ok=True)
        policy.write_text(components.AUDIT_POLICY)
        return components.AuditLog(policy, self.audit_log_file)

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries(self.log, terminal_redraw())
        return self._binaries

    @property
    def kserve_manager(self) -> Path:
        """KServe's controller manager executable (built on first use, see :mod:`aimctl.devcluster.kserve`)."""
        if self._kserve_manager is None:
            self._kserve_manager = kserve.ensure_manager(self.log)
        return self._kserve_manager

    def _executable(self, name: str) -> str:
        """The executable of a component, without building anything (to find or stop its process)."""
        if name == "kserve-manager":
            return str(self._kserve_manager or kserve.manager_path())
        return str(self.binaries.path(name))

    def rest(self, timeout: float = 10.0) -> Rest:
        """An admin client for bootstrap requests (``timeout`` seconds per request)."""
        pki = self.layout.pki
        return Rest(self.server, pki / "ca.crt", pki / "admin.crt", pki / "admin.key", timeout=timeout)

    # ------------------------------------------------------------------ components
    def _kwok_config(self) -> Path:
        path = self.layout.config / "kwok.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(resources.files(__package__).joinpath("kwok-config.yaml").read_text())
        return path

    def component(self, name: str) -> components.Component:
        """The command line of one component."""
        b = self.binaries
        if name == "etcd":
            return components.etcd(self.layout, b)
        if name == "kube-apiserver":
            return components.kube_apiserver(self.layout, b, self._audit())
        if name == "kube-controller-manager":
            return components.kube_controller_manager(self.layout, b)
        if name == "kube-scheduler":
            return components.kube_scheduler(self.layout, b)
        if name == "kwok":
            return components.kwok(self.layout, b, self._kwok_config())
        if name == "kserve-manager":  # (built by up(); never here, so status() stays quick)
            return components.kserve_manager(self.layout, Path(self._executable(name)))
        raise KeyError(f"unknown component {name!r}; known: {', '.join(components.ORDER)}")

    def _healthy(self, comp: components.Component) -> bool:
        if comp.health_url.startswith("https://127.0.0.1:" + str(self.layout.ports.apiserver)):
            try:
                self.rest().request("GET", "/readyz")
            except RestError:
                return False
            return True
        ctx = _insecure_ctx() if comp.health_url.startswith("https") else None
        try:
            with urllib.request.urlopen(comp.health_url, context=ctx, timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _wait_healthy(self, comp: components.Component, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._healthy(comp):
                return
            if process.running_pid(self.layout.pidfile(comp.name), comp.argv[0]) is None:
                raise ClusterError(
                    f"{comp.name} exited during start-up; see {self.layout.logfile(comp.name)}:\n"
                    + _tail(self.layout.logfile(comp.name))
                )
            time.sleep(0.2)
        raise ClusterError(
            f"{comp.name} not healthy at {comp.health_url} after {timeout:.0f} s; see "
            f"{self.layout.logfile(comp.name)}:\n" + _tail(self.layout.logfile(comp.name))
        )

    def start_component(self, name: str, timeout: float = 60.0) -> None:
        """Start one component unless it is already running, and wait until it is healthy."""
        comp = self.component(name)
        pidfile = self.layout.pidfile(name)
        if process.running_pid(pidfile, comp.argv[0]) is None:
            if name == "kserve-manager":
                self._install_kserve_certificate()
            process.start(comp.argv, self.layout.logfile(name), pidfile, comp.env)
        self._wait_healthy(comp, timeout)

    def stop_component(self, name: str) -> bool:
        """Stop one component (SIGTERM, then SIGKILL); True if it was running."""
        return process.stop(self.layout.pidfile(name), self._executable(name))

    def restart_component(self, name: str, timeout: float = 60.0) -> None:
        """Stop and start one component, e.g. to test that watches survive an apiserver restart."""
        self.stop_component(name)
        self.start_component(name, timeout)

    # ------------------------------------------------------------------ lifecycle
    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise up/down across processes (two test sessions may share the ``test`` cluster)."""
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with (self.layout.root / ".lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def components(self) -> tuple[str, ...]:
        """The components this cluster runs, in start order."""
        return tuple(n for n in components.ORDER if self.with_kserve or n != "kserve-manager")

    def running(self) -> bool:
        """True if every component's process is alive (health not checked)."""
        return all(
            process.running_pid(self.layout.pidfile(n), self._executable(n)) is not None for n in self.components
        )

    def _write_kubeconfigs(self) -> None:
        pki = self.layout.pki
        ctx = f"aimctl-{self.name}"
        write_kubeconfig(
            self.layout.kubeconfig,
            render_kubeconfig(ctx, self.server, pki / "ca.crt", pki / "admin.crt", pki / "admin.key", "admin"),
        )
        for component, (stem, user) in _COMPONENT_USERS.items():
            write_kubeconfig(
                self.layout.component_kubeconfig(component),
                render_kubeconfig(ctx, self.server, pki / "ca.crt", pki / f"{stem}.crt", pki / f"{stem}.key", user),
            )

    def up(self) -> None:
        """Bring the whole cluster up (idempotent) and wait until it serves; see the module docstring."""
        with self._lock():
            self._up()

    def _up(self) -> None:
        started = time.monotonic()
        _ = self.binaries
        if self.with_kserve:
            _ = self.kserve_manager
        for d in (self.layout.root, self.layout.logs, self.layout.run, self.layout.config):
            d.mkdir(parents=True, exist_ok=True)
        ensure_pki(self.layout.pki)
        self._write_kubeconfigs()
        self.start_component("etcd")
        self.start_component("kube-apiserver", timeout=90)
        self.install_crds(upstream_crd_files())
        self.start_component("kube-controller-manager")
        self.start_component("kube-scheduler")
        self.start_component("kwok")
        self.apply_nodes()
        if self.with_kserve:
            self.start_kserve()
        self._wait_default_service_account()
        self.log(f"cluster {self.name!r} up in {time.monotonic() - started:.1f} s; KUBECONFIG={self.kubeconfig}")

    def down(self) -> None:
        """Stop every component, newest first; data stays for the next ``up``."""
        with self._lock():
            for name in reversed(components.ORDER):
                if self.stop_component(name):
                    self.log(f"stopped {name}")

    def destroy(self) -> None:
        """Stop the cluster and delete its directory (certificates, data, logs)."""
        self.down()
        shutil.rmtree(self.layout.root, ignore_errors=True)

    def status(self) -> list[ComponentStatus]:
        """Pid and health of every component."""
        out = []
        for name in self.components:
            comp = self.component(name)
            pid = process.running_pid(self.layout.pidfile(name), comp.argv[0])
            out.append(ComponentStatus(name, pid, pid is not None and self._healthy(comp)))
        return out

    # ------------------------------------------------------------------ KServe
    def _install_kserve_certificate(self) -> None:
        """Put the webhook serving certificate where KServe's webhook server reads it (see components)."""
        cert_dir = components.kserve_webhook_cert_dir(self.layout)
        cert_dir.mkdir(parents=True, exist_ok=True)
        for src, dst in (("kserve.crt", "tls.crt"), ("kserve.key", "tls.key")):
            (cert_dir / dst).write_bytes((self.layout.pki / src).read_bytes())
            (cert_dir / dst).chmod(0o600)

    def start_kserve(self) -> None:
        """KServe's namespace and ConfigMap, its manager, then its webhooks (once it serves them).

        The webhook configurations are registered only after the manager is ready: with
        ``failurePolicy: Fail`` they would otherwise reject every InferenceService while it starts.
        """
        rest = self.rest()
        rest.apply(
            f"/api/v1/namespaces/{kserve.NAMESPACE}",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": kserve.NAMESPACE}},
        )
        rest.apply(
            f"/api/v1/namespaces/{kserve.NAMESPACE}/configmaps/{kserve.CONFIGMAP_NAME}",
            kserve.inferenceservice_config(),
        )
        self.start_component("kserve-manager")
        ca = (self.layout.pki / "ca.crt").read_bytes()
        for conf in kserve.webhook_configurations(self.layout.ports.kserve_webhook, ca):
            plural = (
                "mutatingwebhookconfigurations"
                if conf["kind"].startswith("Mutating")
                else "validatingwebhookconfigurations"
            )
            rest.apply(f"/apis/admissionregistration.k8s.io/v1/{plural}/{conf['metadata']['name']}", conf)

    # ------------------------------------------------------------------ objects
    def install_crds(self, files: list[Path], timeout: float = 60.0) -> None:
        """Server-side apply the CRDs of ``files`` and wait until each is Established. Each request may
        take up to ``timeout``: applying a large CRD (Gateway API's HTTPRoute) took over the default 10 s
        on two cores under a load average near 20."""
        rest = self.rest(timeout=timeout)
        crds = load_crds(files)
        for crd in crds:
            rest.apply(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd['metadata']['name']}", crd)
        deadline = time.monotonic() + timeout
        for crd in crds:
            name = crd["metadata"]["name"]
            while True:
                obj = rest.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
                conds = {c["type"]: c["status"] for c in conditions_of(obj)}
                if conds.get("Established") == "True":
                    break
                if time.monotonic() > deadline:
                    raise ClusterError(f"CRD {name} not Established after {timeout:.0f} s: {conds}")
                time.sleep(0.1)

    def apply_nodes(self) -> None:
        """Register (or update) the simulated nodes; kwok then marks them Ready."""
        rest = self.rest()
        for spec in load_node_specs(self.nodes_file):
            node = node_manifest(spec, kubelet_port=self.layout.ports.kwok)
            status = node.pop("status")
            rest.apply(f"/api/v1/nodes/{node['metadata']['name']}", node)
            rest.apply(
                f"/api/v1/nodes/{node['metadata']['name']}/status",
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node["metadata"]["name"]}, "status": status},
            )

    def _wait_default_service_account(self, timeout: float = 60.0) -> None:
        """Wait until the controller manager has created ``default/default`` (pods need it)."""
        rest = self.rest()
        deadline = time.monotonic() + timeout
        while True:
            try:
                rest.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
                return
            except RestError as e:
                if time.monotonic() > deadline:
                    raise ClusterError(f"service account default/default never appeared: {e}") from e
                time.sleep(0.2)

    # ------------------------------------------------------------------ etcd
    def _etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            self.etcd_endpoint + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result

    def etcd_revision(self) -> int:
        """etcd's current revision (what resourceVersions are made of)."""
        key = base64.b64encode(b"/registry/").decode()
        out = self._etcd("/v3/kv/range", {"key": key, "limit": 1, "keys_only": True})
        return int(out["header"]["revision"])

    def compact_etcd(self) -> int:
        """Compact etcd's history up to the current revision; watches from older revisions get 410 Gone."""
        rev = self.etcd_revision()
        self._etcd("/v3/kv/compaction", {"revision": rev, "physical": True})
        return rev


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
