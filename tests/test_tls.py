"""TLS and mutual TLS on the gRPC port: handshakes, refused clients, and files the server will not start with."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from api_checks import fails
from processes import free_port

from ipam.devca import DevCa, write_dev_ca
from ipam_client import IpamClient, Unavailable

Cli = Callable[..., subprocess.CompletedProcess[str]]


def spaces(address: str, **tls: object) -> list[str]:
    with IpamClient(address, retries=0, timeout=5, **tls) as ipam:  # type: ignore[arg-type]
        return [s.name for s in ipam.list_address_spaces()]


def test_a_client_trusting_the_ca_talks_tls(tls_server: str, dev_ca: DevCa) -> None:
    assert spaces(tls_server, ca_file=dev_ca.ca_cert) == ["default"]


def test_a_plaintext_client_of_a_tls_server_is_told_to_use_tls(tls_server: str) -> None:
    with fails(Unavailable, f"cannot reach IPAM server at {tls_server}", "if the server uses TLS"):
        spaces(tls_server)


def test_a_client_trusting_another_ca_fails_the_handshake(tls_server: str, tmp_path: Path) -> None:
    other = write_dev_ca(tmp_path / "other")
    with fails(Unavailable, "andshake failed", "check that --ca-file signed the server's certificate"):
        spaces(tls_server, ca_file=other.ca_cert)


def test_mutual_tls_accepts_a_client_certificate_of_the_ca(mtls_server: str, dev_ca: DevCa) -> None:
    files = {"ca_file": dev_ca.ca_cert, "cert_file": dev_ca.client_cert, "key_file": dev_ca.client_key}
    assert spaces(mtls_server, **files) == ["default"]


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_server: str, dev_ca: DevCa) -> None:
    with fails(Unavailable, "give --cert-file and --key-file"):
        spaces(mtls_server, ca_file=dev_ca.ca_cert)


def test_mutual_tls_refuses_a_certificate_of_another_ca(mtls_server: str, dev_ca: DevCa, tmp_path: Path) -> None:
    other = write_dev_ca(tmp_path / "other")
    with fails(Unavailable, "the server trusts the client certificate"):
        spaces(mtls_server, ca_file=dev_ca.ca_cert, cert_file=other.client_cert, key_file=other.client_key)


def test_the_cli_connects_with_the_ca_from_the_environment(ipam_cli: Cli, mtls_server: str, dev_ca: DevCa) -> None:
    env = {
        "IPAM_SERVER": mtls_server,
        "IPAM_TLS_CA": str(dev_ca.ca_cert),
        "IPAM_TLS_CERT": str(dev_ca.client_cert),
        "IPAM_TLS_KEY": str(dev_ca.client_key),
    }
    listed = ipam_cli("space", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "default" in listed.stdout


def test_dev_ca_names_the_server(ipam_cli: Cli, tmp_path: Path) -> None:
    from cryptography import x509

    made = ipam_cli("cert", "dev-ca", str(tmp_path), "--name", "ipam.example.internal", "--name", "10.0.0.7")
    assert made.returncode == 0, made.stderr
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {"localhost", "127.0.0.1", "::1", "ipam.example.internal", "10.0.0.7"}
    assert (tmp_path / "client-key.pem").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"--tls-cert": "missing.pem", "--tls-key": "server-key.pem"}, "cannot read the TLS certificate"),
        ({"--tls-cert": "server.pem", "--tls-key": "client-key.pem"}, "does not match the certificate"),
        ({"--tls-cert": "server-key.pem", "--tls-key": "server-key.pem"}, "is not a PEM certificate"),
        ({"--tls-cert": "server.pem", "--tls-key": "server.pem"}, "is not an unencrypted PEM private key"),
        (
            {"--tls-cert": "server.pem", "--tls-key": "server-key.pem", "--tls-client-ca": "missing.pem"},
            "cannot read the TLS client CA",
        ),
        ({"--tls-cert": "server.pem"}, "--tls-cert and --tls-key go together"),
    ],
)
def test_the_server_refuses_to_start_with_bad_certificate_files(
    options: dict[str, str], message: str, dev_ca: DevCa, database_url: str
) -> None:
    files = [arg for option, name in options.items() for arg in (option, str(dev_ca.ca_cert.parent / name))]
    listen = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "ipam", "serve", "--database-url", database_url, "--listen", listen, *files]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    lines = done.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in done.stderr
    if done.returncode == 1:  # a usage error (exit 2) prints the usage first, as argparse does
        assert lines == [lines[-1]]
    else:
        assert done.returncode == 2
