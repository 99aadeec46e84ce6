"""Server TLS: reading and checking the certificate files before gRPC sees them.

gRPC only says "failed" for a missing file or a key that does not match the certificate; here
each problem is one line naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsConfigError(ValueError):
    """A certificate or key file is missing, unreadable, not PEM, or the pair does not match."""


@dataclass(frozen=True)
class ServerTls:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None  # given: clients must present a certificate signed by it (mTLS)

    def credentials(self) -> grpc.ServerCredentials:
        cert = _read(self.cert_file, "certificate")
        key = _read(self.key_file, "private key")
        _check_pair(cert, key, self.cert_file, self.key_file)
        client_ca = _read(self.client_ca_file, "client CA") if self.client_ca_file is not None else None
        if client_ca is not None:
            _load_certificate(client_ca, self.client_ca_file)
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )


def _read(path: Path | None, what: str) -> bytes:
    assert path is not None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TlsConfigError(f"cannot read the TLS {what} {path}: {exc.strerror or exc}") from None


def _load_certificate(pem: bytes, path: Path | None) -> object:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise TlsConfigError(f"{path} is not a PEM certificate") from None


def _check_pair(cert_pem: bytes, key_pem: bytes, cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = _load_certificate(cert_pem, cert_path)
    assert isinstance(certificate, x509.Certificate)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise TlsConfigError(f"{key_path} is not an unencrypted PEM private key") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if key.public_key().public_bytes(encoding, public) != certificate.public_key().public_bytes(encoding, public):
        raise TlsConfigError(f"the private key {key_path} does not match the certificate {cert_path}")
