"""What the production settings cost: allocation throughput of a bare server against the same
server with metrics and a JSON access log, and with auth and mutual TLS on top, in one run.

    python benchmarks/production.py [--database-url URL] [--clients 32] [--hosts 8] [--seconds 10]

Each configuration is its own `ipam serve` on the same database, measured in turns (--rounds)
with the load of benchmarks/alloc.py (allocate, release a fraction). Prints allocations/s,
p50/p99 latency and each configuration's ratio to the bare server. The bare server runs with
`--log-level warning` (no access log). Compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alloc import allocation_rate, rate_line
from harness import QUIET_SERVER, database, free_port, ipam_server


def observed() -> list[str]:
    return ["--metrics-listen", f"127.0.0.1:{free_port()}", "--log-format", "json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--release-fraction", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=5, help="measure each configuration in this many turns")
    args = parser.parse_args()

    from sqlalchemy import create_engine, pool

    from ipam.devca import write_dev_ca
    from ipam.service.tokens import create_token

    with database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="ipam-bench-tls-") as tmp:
        ca = write_dev_ca(Path(tmp))
        engine = create_engine(url, poolclass=pool.NullPool)
        token = create_token(engine, f"bench-{free_port()}", "admin").token
        engine.dispose()
        secured = ["--auth", "--tls-cert", str(ca.server_cert), "--tls-key", str(ca.server_key)]
        secured += ["--tls-client-ca", str(ca.ca_cert)]
        tls: dict[str, Any] = {"ca_file": ca.ca_cert, "cert_file": ca.client_cert, "key_file": ca.client_key}
        credentials = grpc.ssl_channel_credentials(
            ca.ca_cert.read_bytes(), ca.client_key.read_bytes(), ca.client_cert.read_bytes()
        )
        configurations: list[tuple[str, list[str], dict[str, Any], grpc.ChannelCredentials | None]] = [
            ("bare (no access log):", list(QUIET_SERVER), {}, None),
            ("metrics + JSON log:", observed(), {}, None),
            ("+ auth + mutual TLS:", [*observed(), *secured], {"token": token, **tls}, credentials),
        ]
        with contextlib.ExitStack() as servers:
            addresses = [
                servers.enter_context(ipam_server(url, free_port(), *server_args, quiet=True, tls=health_tls))
                for _, server_args, _, health_tls in configurations
            ]
            # Rounds, each configuration in turn, so that a change in the machine's load hits all alike.
            rates: list[list[float]] = [[] for _ in configurations]
            latencies: list[list[float]] = [[] for _ in configurations]
            for _ in range(args.rounds):
                for i, (address, (_, _, client_args, _)) in enumerate(zip(addresses, configurations, strict=True)):
                    rate, lat = allocation_rate(
                        address, args.clients, args.hosts, args.seconds / args.rounds, args.release_fraction,
                        **client_args,
                    )  # fmt: skip
                    rates[i].append(rate)
                    latencies[i].extend(lat)
    print(
        f"clients={args.clients} hosts={args.hosts} seconds={args.seconds} rounds={args.rounds} "
        f"release_fraction={args.release_fraction}"
    )
    bare = statistics.mean(rates[0])
    for (label, *_), turns, lat in zip(configurations, rates, latencies, strict=True):
        mean = statistics.mean(turns)
        print(f"{rate_line(label, mean, sorted(lat))}   ratio to bare {mean / bare:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
