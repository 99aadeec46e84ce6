"""Heartbeat throughput of one replica, and what each heartbeat costs the database.

    python benchmarks/heartbeats.py [--database-url URL] [--hosts 200] [--seconds 10] [--channels 8]

Starts `ipam serve` (on the embedded PostgreSQL when no URL is given), registers H hosts, then
runs H threads, one per host, each sending RegisterHost back to back (an agent's heartbeat with
no pause) for T seconds over a few shared channels. Prints heartbeats/s, p50/p99 latency, and the
transactions the database committed per heartbeat (pg_stat_database.xact_commit, which counts the
whole database: the server's background work is in it too). Coalesced heartbeats show as fewer
than one transaction each. Figures are noisy on shared machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import grpc
import psycopg

from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile

# A PostgreSQL backend (15+) reports its counts at most every second while busy and 10 s after
# it goes idle: wait that long before reading them.
STATS_FLUSH_SECONDS = 11.0


def commits(url: str) -> int:
    """Transactions committed in the database so far, once every backend has reported its own."""
    time.sleep(STATS_FLUSH_SECONDS)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


def heartbeat(address: str, hosts: int, seconds: float, channels: int) -> tuple[int, list[float]]:
    """(heartbeats, sorted latencies) of `hosts` threads beating for `seconds`."""
    opened = [grpc.insecure_channel(address) for _ in range(channels)]
    stubs = [rpc.HostServiceStub(channel) for channel in opened]
    for h in range(hosts):
        stubs[0].RegisterHost(pb.RegisterHostRequest(name=f"beat-{h}"), timeout=30)
    latencies: list[list[float]] = [[] for _ in range(hosts)]
    start = threading.Barrier(hosts + 1)
    deadline = 0.0

    def beat(h: int) -> None:
        stub, request = stubs[h % channels], pb.RegisterHostRequest(name=f"beat-{h}", labels={"zone": "a"})
        start.wait()
        while time.monotonic() < deadline:
            began = time.perf_counter()
            stub.RegisterHost(request, timeout=30)
            latencies[h].append(time.perf_counter() - began)

    threads = [threading.Thread(target=beat, args=(h,)) for h in range(hosts)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    start.wait()
    for thread in threads:
        thread.join()
    for channel in opened:
        channel.close()
    merged = sorted(x for per in latencies for x in per)
    return len(merged), merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("IPAM_DATABASE_URL"))
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("server_args", nargs="*", help="more `ipam serve` options, after --")
    args = parser.parse_args()
    with database(args.database_url) as url, ipam_server(url, free_port(), *QUIET_SERVER, *args.server_args) as address:
        heartbeat(address, args.hosts, 1.0, args.channels)  # warm-up: connections, caches
        before = commits(url)
        calls, latencies = heartbeat(address, args.hosts, args.seconds, args.channels)
        committed = commits(url) - before
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"heartbeats: {calls / args.seconds:8.0f}/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
        f"transactions per heartbeat: {committed / max(calls, 1):.3f}   (load average: {os.getloadavg()[0]:.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
