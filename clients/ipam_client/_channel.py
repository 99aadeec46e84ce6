"""Where to connect and how: server address, token metadata and the (optionally TLS) channel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc

DEFAULT_SERVER = "127.0.0.1:50051"
SERVER_ENV = "IPAM_SERVER"
TOKEN_ENV = "IPAM_TOKEN"

_OPTIONS = [("grpc.primary_user_agent", "ipam-registry-client")]


def resolve_server(server: str | None) -> str:
    """The argument, else ``$IPAM_SERVER``, else ``127.0.0.1:50051``."""
    return server or os.environ.get(SERVER_ENV) or DEFAULT_SERVER


def resolve_token(token: str | None) -> str | None:
    """The argument, else ``$IPAM_TOKEN``, else no token."""
    return token or os.environ.get(TOKEN_ENV) or None


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """The call metadata carrying the token (``authorization: Bearer <token>``), if any."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def replica_targets(target: str) -> list[str]:
    """Each address of a target naming several (``ipv4:10.0.0.1:50051,10.0.0.2:50051``, also
    ``ipv6:``) as a target of its own, in order; any other target as the only one."""
    scheme, sep, addresses = target.partition(":")
    if scheme in ("ipv4", "ipv6") and sep and "," in addresses:
        return [f"{scheme}:{address}" for address in addresses.split(",")]
    return [target]


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    return Path(path).read_bytes() if path is not None else None


def open_channel(
    server: str,
    *,
    tls: bool = False,
    ca_file: str | os.PathLike[str] | None = None,
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to ``server``; TLS when ``tls`` is true or any certificate file is given.

    ``ca_file`` verifies the server (system roots when omitted); ``cert_file`` + ``key_file``
    present a client certificate (mutual TLS). ``options`` are extra gRPC channel arguments.
    """
    channel_options = [*_OPTIONS, *options]
    if (cert_file is None) != (key_file is None):
        raise ValueError("cert_file and key_file must be given together")
    if not (tls or ca_file or cert_file):
        return grpc.insecure_channel(server, options=channel_options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(ca_file),
        private_key=_read(key_file),
        certificate_chain=_read(cert_file),
    )
    return grpc.secure_channel(server, credentials, options=channel_options)


def tls_hint(tls: bool, client_certificate: bool) -> str:
    """What to check when a connection fails in a way that TLS settings can explain."""
    if not tls:
        return "if the server uses TLS, connect with TLS and its CA (--tls, --ca-file)"
    if not client_certificate:
        return (
            "check that --ca-file signed the server's certificate; if the server requires client "
            "certificates, give --cert-file and --key-file"
        )
    return "check that --ca-file signed the server's certificate and that the server trusts the client certificate"
