"""Command lines of the cluster's processes (pure: a layout and binaries in, argv out).

Choices worth knowing:

* etcd listens on loopback over plain HTTP (nothing else can reach it); its data directory persists.
* kube-apiserver runs with ``Node,RBAC`` authorization and the default admission plugins (PodSecurity
  included), service-account token signing, and reaches kwok's kubelet-like server through each node's
  ``InternalIP`` (127.0.0.1) for ``pods/log``. The endpoint reconciler is off: the advertised address
  is loopback, which the ``kubernetes`` Endpoints object may not hold.
* the audit log is off unless asked for (:class:`AuditLog`): then the apiserver writes one JSON line per
  completed write (create, update, patch, delete) at ``Metadata`` level — who, what, when, the answer's
  code — to ``logs/audit.log`` under the cluster directory; reads and watches are not logged, so the
  cost stays small even under load.
* kube-controller-manager runs every default controller (Job, TTL-after-finished, garbage collector,
  PV binder, service-account tokens, namespace lifecycle, ...) with per-controller service-account
  credentials, as in a kubeadm cluster; leader election is off (one instance).
* KServe's controller manager (``kserve-manager``, built from KServe's module, see
  :mod:`aimctl.devcluster.kserve`) runs in Standard mode with leader election off, its metrics and
  probes on loopback ports of the cluster, and its webhook server on the cluster's KServe webhook port
  with a serving certificate from the cluster's PKI. controller-runtime reads that certificate from
  ``$TMPDIR/k8s-webhook-server/serving-certs/tls.{crt,key}`` and KServe's ``main`` exposes no flag for
  the directory or the bind address, so ``TMPDIR`` points into the cluster directory, and the webhook
  port listens on every interface (KServe's own choice; it requires a client to trust the cluster CA).
* kwok manages the nodes annotated ``kwok.x-k8s.io/node=fake`` with the stages of ``kwok-stages.yaml``
  and serves container logs from ``Logs``/``ClusterLogs`` objects (their CRDs are enabled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aimctl.devcluster.build import Binaries
from aimctl.devcluster.layout import Layout

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node=fake"

#: Start order; stop runs in reverse.
ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kserve-manager")


@dataclass(frozen=True)
class Component:
    """One process of the cluster: its argv and the URL that says it is healthy."""

    name: str
    argv: list[str]
    health_url: str
    #: Environment variables added to the process's.
    env: dict[str, str] = field(default_factory=dict)


def etcd(layout: Layout, binaries: Binaries) -> Component:
    p = layout.ports
    client = f"http://127.0.0.1:{p.etcd_client}"
    peer = f"http://127.0.0.1:{p.etcd_peer}"
    return Component(
        "etcd",
        [
            str(binaries.path("etcd")),
            f"--name=aimctl-{layout.name}",
            f"--data-dir={layout.etcd_data}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=aimctl-{layout.name}={peer}",
            "--initial-cluster-state=new",
            "--quota-backend-bytes=8589934592",
            "--snapshot-count=10000",
            "--log-level=warn",
            "--unsafe-no-fsync=false",
        ],
        f"{client}/health",
    )


#: The audit policy of :class:`AuditLog`: writes at Metadata level, when their answer is complete.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived", "ResponseStarted"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"""


@dataclass(frozen=True)
class AuditLog:
    """The apiserver's audit log (of writes only): the policy file and the log file it writes."""

    policy_file: Path
    log_file: Path

    def flags(self) -> list[str]:
        return [
            f"--audit-policy-file={self.policy_file}",
            f"--audit-log-path={self.log_file}",
            "--audit-log-format=json",
            "--audit-log-mode=blocking",
            "--audit-log-maxsize=1024",
            "--audit-log-maxbackup=1",
        ]


def kube_apiserver(layout: Layout, binaries: Binaries, audit: AuditLog | None = None) -> Component:
    pki = layout.pki
    return Component(
        "kube-apiserver",
        [
            str(binaries.path("kube-apiserver")),
            f"--etcd-servers={layout.etcd_endpoint}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={layout.ports.apiserver}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--event-ttl=1h",
            "--v=1",
            *(audit.flags() if audit else []),
        ],
        f"https://127.0.0.1:{layout.ports.apiserver}/readyz",
    )


def kube_controller_manager(layout: Layout, binaries: Binaries) -> Component:
    pki = layout.pki
    kubeconfig = layout.component_kubeconfig("kube-controller-manager")
    return Component(
        "kube-controller-manager",
        [
            str(binaries.path("kube-controller-manager")),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.ports.controller_manager}",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-cidr={POD_CIDR}",
            "--allocate-node-cidrs=false",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service,-route",
            "--concurrent-gc-syncs=20",
            "--v=1",
        ],
        f"https://127.0.0.1:{layout.ports.controller_manager}/healthz",
    )


def kube_scheduler(layout: Layout, binaries: Binaries) -> Component:
    kubeconfig = layout.component_kubeconfig("kube-scheduler")
    return Component(
        "kube-scheduler",
        [
            str(binaries.path("kube-scheduler")),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={layout.ports.scheduler}",
            "--leader-elect=false",
            "--v=1",
        ],
        f"https://127.0.0.1:{layout.ports.scheduler}/healthz",
    )


def kwok(layout: Layout, binaries: Binaries, config_file: Path) -> Component:
    pki = layout.pki
    return Component(
        "kwok",
        [
            str(binaries.path("kwok")),
            f"--kubeconfig={layout.component_kubeconfig('kwok')}",
            f"--config={config_file}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}",
            "--node-ip=127.0.0.1",
            f"--node-port={layout.ports.kwok}",
            f"--server-address=127.0.0.1:{layout.ports.kwok}",
            f"--tls-cert-file={pki / 'kwok.crt'}",
            f"--tls-private-key-file={pki / 'kwok.key'}",
            "--node-lease-duration-seconds=40",
            "--enable-crds=Logs,ClusterLogs",
        ],
        f"https://127.0.0.1:{layout.ports.kwok}/healthz",
    )


def kserve_webhook_cert_dir(layout: Layout) -> Path:
    """Where controller-runtime finds the webhook serving certificate when ``TMPDIR`` is ``layout.run/kserve``."""
    return layout.run / "kserve" / "k8s-webhook-server" / "serving-certs"


def kserve_manager(layout: Layout, manager: Path) -> Component:
    p = layout.ports
    return Component(
        "kserve-manager",
        [
            str(manager),
            f"--kubeconfig={layout.component_kubeconfig('kserve-manager')}",
            f"--metrics-addr=127.0.0.1:{p.kserve_metrics}",
            f"--health-probe-addr=127.0.0.1:{p.kserve_probe}",
            f"--webhook-port={p.kserve_webhook}",
            "--leader-elect=false",
            "--zap-log-level=info",
        ],
        f"http://127.0.0.1:{p.kserve_probe}/readyz",
        env={"POD_NAMESPACE": "kserve", "TMPDIR": str(layout.run / "kserve")},
    )
