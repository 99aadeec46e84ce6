"""Allocation throughput against the raw INSERT rate of the same database, in one run.

    python benchmarks/alloc.py [--database-url URL] [--clients 32] [--hosts 8] [--seconds 10]

Starts `ipam serve` (on the embedded PostgreSQL when no URL is given), then runs C concurrent
gRPC clients spread over H hosts for T seconds: each allocates an address and releases a
fraction of what it holds. In the same run, C threads do single-row INSERT transactions on the
same database (a pgbench-style loop), and C clients calling the server's gRPC health check, a
call that does no work: the most any server in this gRPC stack could answer on this machine.
Prints allocations/s, p50/p99 latency, the raw rate, the no-op rate and the ratios (allocations
to no-op calls, allocations to raw INSERTs). Figures are noisy on shared machines: compare the
ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ipam_client import AddressSpec, IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile


def run_clients(
    count: int, seconds: float, body: Callable[[int, int], None], until: threading.Event | None = None
) -> tuple[int, list[float]]:
    """Run `body(client, i)` in `count` threads for `seconds` (or until `until` is set);
    returns (calls, latencies)."""
    deadline = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(count)]

    def loop(client: int) -> None:
        i = 0
        while time.monotonic() < deadline and not (until is not None and until.is_set()):
            start = time.perf_counter()
            body(client, i)
            latencies[client].append(time.perf_counter() - start)
            i += 1

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    merged = sorted(x for per in latencies for x in per)
    return len(merged), merged


def rate_line(label: str, rate: float, latencies: list[float]) -> str:
    """`label` padded to one column, then calls/s and p50/p99 latency in ms."""
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    return f"{label:<25}{rate:9.0f}/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"


def raw_insert_rate(url: str, clients: int, seconds: float) -> tuple[float, list[float]]:
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_insert")
        conn.execute("CREATE TABLE bench_raw_insert (id bigserial PRIMARY KEY, owner text, at timestamptz)")
    connections = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]

    def insert(client: int, i: int) -> None:
        connections[client].execute("INSERT INTO bench_raw_insert (owner, at) VALUES (%s, now())", (f"{client}-{i}",))

    try:
        calls, latencies = run_clients(clients, seconds, insert)
    finally:
        for c in connections:
            c.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE bench_raw_insert")
    return calls / seconds, latencies


def noop_rpc_rate(address: str, clients: int, seconds: float) -> tuple[float, list[float]]:
    """Health checks: the gRPC round trip of this machine's client and server with no work in it."""
    channels = [grpc.insecure_channel(address) for _ in range(clients)]
    stubs = [health_pb2_grpc.HealthStub(channel) for channel in channels]

    def check(client: int, i: int) -> None:
        stubs[client].Check(health_pb2.HealthCheckRequest(), timeout=30)

    try:
        calls, latencies = run_clients(clients, seconds, check)
    finally:
        for channel in channels:
            channel.close()
    return calls / seconds, latencies


def allocation_rate(
    address: str, clients: int, hosts: int, seconds: float, release_fraction: float, **client_args: Any
) -> tuple[float, list[float]]:
    """Allocations/s and their latencies; `client_args` go to each IpamClient (token, TLS files)."""
    with IpamClient(address, timeout=30, **client_args) as admin:
        with contextlib.suppress(Exception):
            admin.delete_pool("bench", force=True)
        admin.create_pool("bench", "10.128.0.0/9", 22, cooldown_seconds=0)
        for h in range(hosts):
            admin.register_host(f"bench-host-{h}")
    names = [f"bench-host-{h}" for h in range(hosts)]
    return allocate_and_release(address, clients, names, "bench", seconds, release_fraction, **client_args)


def allocate_and_release(
    address: str,
    clients: int,
    hosts: list[str],
    pool: str,
    seconds: float,
    release_fraction: float,
    tag: str = "c",
    **client_args: Any,
) -> tuple[float, list[float]]:
    """Allocations/s and latencies of `clients` threads over `hosts`, releasing a fraction again;
    `client_args` go to each IpamClient (token, TLS files)."""
    channels = [IpamClient(address, timeout=30, **client_args) for _ in range(clients)]
    held: list[list[str]] = [[] for _ in range(clients)]
    rng = random.Random(7)

    def allocate(client: int, i: int) -> None:
        ipam = channels[client]
        owner = f"{tag}{client}-{i}"
        ipam.allocate(hosts[client % len(hosts)], owner, "eth0", [AddressSpec(pool=pool)])
        held[client].append(owner)
        if rng.random() < release_fraction:
            ipam.release_owner(held[client].pop(rng.randrange(len(held[client]))), "eth0")

    try:
        calls, latencies = run_clients(clients, seconds, allocate)
    finally:
        for c in channels:
            c.close()
    return calls / seconds, latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--release-fraction", type=float, default=0.3)
    args = parser.parse_args()

    with database(args.database_url) as url, ipam_server(url, free_port(), *QUIET_SERVER) as address:
        raw, raw_lat = raw_insert_rate(url, args.clients, args.seconds)
        noop, noop_lat = noop_rpc_rate(address, args.clients, args.seconds)
        rate, lat = allocation_rate(address, args.clients, args.hosts, args.seconds, args.release_fraction)
    # Each iteration is one Allocate plus, for a fraction of them, one Release.
    ceiling = noop / (1 + args.release_fraction)
    print(f"clients={args.clients} hosts={args.hosts} seconds={args.seconds} release_fraction={args.release_fraction}")
    print(rate_line("raw INSERT transactions:", raw, raw_lat))
    print(rate_line("no-op gRPC calls:", noop, noop_lat))
    print(rate_line("allocations (gRPC):", rate, lat))
    print(f"ratio allocations/no-op: {rate / noop:9.2f}")
    print(f"ratio allocations/raw:   {rate / raw:9.2f}")
    print(f"ceiling no-op/(1+release fraction)/raw: {ceiling / raw:5.2f}   allocations/ceiling: {rate / ceiling:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
