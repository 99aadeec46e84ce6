"""What the production settings cost: allocation throughput of a bare server against the same
server with metrics and a JSON access log, and with auth and mutual TLS on top, in one run.

    python benchmarks/production.py [--database-url URL] [--clients 32] [--hosts 8] [--seconds 10]

Each configuration is its own `ipam serve` on the same database, measured one after the other
with the load of benchmarks/alloc.py (allocate, release a fraction). Prints allocations/s,
p50/p99 latency and each configuration's ratio to the bare server. The bare server runs with
`--log-level warning` (no access log). Compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alloc import allocation_rate, rate_line
from harness import QUIET_SERVER, database, free_port, ipam_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--release-fraction", type=float, default=0.3)
    args = parser.parse_args()

    from sqlalchemy import create_engine, pool

    from ipam.devca import write_dev_ca
    from ipam.service.tokens import create_token

    with database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="ipam-bench-tls-") as tmp:
        ca = write_dev_ca(Path(tmp))
        engine = create_engine(url, poolclass=pool.NullPool)
        token = create_token(engine, f"bench-{free_port()}", "admin").token
        engine.dispose()
        observed = ["--metrics-listen", f"127.0.0.1:{free_port()}", "--log-format", "json"]
        secured = ["--auth", "--tls-cert", str(ca.server_cert), "--tls-key", str(ca.server_key)]
        secured += ["--tls-client-ca", str(ca.ca_cert)]
        tls: dict[str, Any] = {"ca_file": ca.ca_cert, "cert_file": ca.client_cert, "key_file": ca.client_key}
        credentials = grpc.ssl_channel_credentials(
            ca.ca_cert.read_bytes(), ca.client_key.read_bytes(), ca.client_cert.read_bytes()
        )
        configurations: list[tuple[str, list[str], dict[str, Any], grpc.ChannelCredentials | None]] = [
            ("bare (no access log):", list(QUIET_SERVER), {}, None),
            ("metrics + JSON log:", observed, {}, None),
            ("+ auth + mutual TLS:", [*observed, *secured], {"token": token, **tls}, credentials),
        ]
        results = []
        for label, server_args, client_args, health_tls in configurations:
            with ipam_server(url, free_port(), *server_args, quiet=True, tls=health_tls) as address:
                rate, latencies = allocation_rate(
                    address, args.clients, args.hosts, args.seconds, args.release_fraction, **client_args
                )
            results.append((label, rate, latencies))
    print(f"clients={args.clients} hosts={args.hosts} seconds={args.seconds} release_fraction={args.release_fraction}")
    bare = results[0][1]
    for label, rate, latencies in results:
        print(f"{rate_line(label, rate, latencies)}   ratio to bare {rate / bare:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
