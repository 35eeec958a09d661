"""Certificates and keys of the development cluster, generated once per cluster directory.

One self-signed CA signs: the apiserver's serving certificate (loopback and in-cluster service
names), a client certificate per component (admin in ``system:masters``, the controller manager and
scheduler under their RBAC identities, kwok, KServe's manager, and the apiserver's kubelet client) and
the serving certificates of kwok and of KServe's webhooks. ECDSA P-256 keys: fast to generate,
accepted by every component. The service-account signing key is a separate key pair. Files are
written with mode 0600; existing files are kept, so a restarted cluster keeps its identity and issued
tokens stay valid.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=3650)

#: DNS names and IPs the apiserver certificate is valid for (loopback plus in-cluster names).
APISERVER_SANS: tuple[str, ...] = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "127.0.0.1",
    "10.96.0.1",
)


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's subject: ``common_name`` is the user, ``organizations`` its groups."""

    file_stem: str
    common_name: str
    organizations: tuple[str, ...] = ()
    server_sans: tuple[str, ...] = ()


#: Every certificate the CA issues, by file stem.
IDENTITIES: tuple[ClientIdentity, ...] = (
    ClientIdentity("apiserver", "kube-apiserver", server_sans=APISERVER_SANS),
    ClientIdentity("admin", "aimctl-admin", ("system:masters",)),
    ClientIdentity("kube-controller-manager", "system:kube-controller-manager"),
    ClientIdentity("kube-scheduler", "system:kube-scheduler"),
    ClientIdentity("kwok", "kwok-controller", ("system:masters",), server_sans=("localhost", "127.0.0.1")),
    ClientIdentity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",)),
    # KServe's controller manager: its client identity (cluster-wide, like its ClusterRole in a real
    # install) and the serving certificate of its admission webhooks, which the apiserver calls on loopback.
    ClientIdentity("kserve", "kserve-controller-manager", ("system:masters",), server_sans=("localhost", "127.0.0.1")),
)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _san(names: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for n in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            entries.append(x509.DNSName(n))
    return x509.SubjectAlternativeName(entries)


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("ca.key is not an ECDSA key")
    return cert, key


def _create_ca(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = _name("aimctl-dev-ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    _write_key(directory / "ca.key", key)
    (directory / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(directory: Path, identity: ClientIdentity) -> None:
    ca_cert, ca_key = _load_ca(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if identity.server_sans:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(identity.common_name, identity.organizations))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    if identity.server_sans:
        builder = builder.add_extension(_san(identity.server_sans), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(directory / f"{identity.file_stem}.key", key)
    (directory / f"{identity.file_stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _create_service_account_keys(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _write_key(directory / "sa.key", key)
    (directory / "sa.pub").write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def ensure_pki(directory: Path) -> None:
    """Create whatever of the CA, certificates and service-account keys is missing in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "ca.crt").exists():
        _create_ca(directory)
    for identity in IDENTITIES:
        if not (directory / f"{identity.file_stem}.crt").exists():
            _issue(directory, identity)
    if not (directory / "sa.key").exists():
        _create_service_account_keys(directory)


def ensure_client_certificate(directory: Path, identity: ClientIdentity) -> tuple[Path, Path]:
    """Issue (once) a client certificate of the cluster's CA for ``identity``; returns (cert, key).

    For tests that need callers the apiserver tells apart (its audit log names the certificate's
    common name as the user), e.g. two operator replicas.
    """
    cert, key = directory / f"{identity.file_stem}.crt", directory / f"{identity.file_stem}.key"
    if not cert.exists():
        _issue(directory, identity)
    return cert, key
