"""`ipam cert dev-ca DIR`: a development CA with a server and a client certificate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    noun = subparsers.add_parser(
        "cert", parents=parents, help="certificates for TLS", description="Certificates for TLS."
    )
    verbs = noun.add_subparsers(title="verbs", metavar="VERB", required=True)
    dev_ca = verbs.add_parser(
        "dev-ca",
        parents=parents,
        help="write a development CA, a server and a client certificate",
        description="Write ca.pem, server.pem and client.pem (each with a -key.pem) into DIR, for trying TLS "
        "and mutual TLS. The server certificate names localhost, 127.0.0.1 and ::1, plus each --name. "
        "Keys are unencrypted (mode 0600): not for production.",
        epilog="example:\n"
        "  ipam cert dev-ca ./tls --name ipam.example.internal\n"
        "  ipam serve --tls-cert tls/server.pem --tls-key tls/server-key.pem --tls-client-ca tls/ca.pem\n"
        "  ipam space list --ca-file tls/ca.pem --cert-file tls/client.pem --key-file tls/client-key.pem",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dev_ca.add_argument("directory", metavar="DIR", type=Path)
    dev_ca.add_argument(
        "--name", action="append", default=[], help="another DNS name or IP address of the server (repeatable)"
    )
    dev_ca.add_argument("--client-name", default="ipam-client", help="common name of the client certificate")
    dev_ca.set_defaults(run=run_dev_ca)


def run_dev_ca(args: argparse.Namespace) -> int:
    from ipam.devca import write_dev_ca

    files = write_dev_ca(args.directory, args.name, args.client_name)
    for path in (files.ca_cert, files.server_cert, files.server_key, files.client_cert, files.client_key):
        print(path)
    return 0
