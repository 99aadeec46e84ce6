"""Endpoint registry speed: LookupAddress over a big history, and the watch stream's fan-out.

    python benchmarks/registry.py [--database-url URL] [--events 1000000] [--live 100000]
                                  [--lookups 2000] [--watchers 50] [--clients 32] [--seconds 10]

EMPTIES THE REGISTRY TABLES (endpoint, address_history, event) of the database it is given
(default: an embedded PostgreSQL). Then:

1. Bulk-loads history with INSERT ... SELECT generate_series: `--live` addresses, each held by
   events/live endpoints in a row (an hour each, the last one still holding it): that many
   endpoints, address-history rows and events (`--live` of the endpoints are live).
2. Starts `ipam serve` and asks LookupAddress for random addresses at random past times, one
   call at a time, checking each answer; prints p50/p99 next to the same number of gRPC health
   checks (a call that does no work: the floor of any call here) and of the SQL query alone.
3. Allocates at full speed (`--clients` threads, as benchmarks/alloc.py) for `--seconds`
   without watchers (the baseline), then again with `--watchers` watch streams following every
   change (in separate processes, so the load generator is not the bottleneck): prints the
   allocation rate with and without watchers, changes/s produced, changes/s delivered per
   watcher and in total, and how long the watchers took to catch up once allocation stopped.
Figures are noisy on shared machines: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ipam_client import IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alloc import allocate_and_release, rate_line
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile

HOSTS = 100
WATCHERS_PER_PROCESS = 10
FIRST_ADDRESS = "172.16.0.0"  # history addresses: outside the allocation pool below
ALLOC_POOL, ALLOC_CIDR = "regbench-alloc", "10.128.0.0/9"

# :n events over :live addresses, round r = (g - 1) / live holds for an hour from :base + r hours.
_LOAD = [
    "TRUNCATE endpoint, address_history, event, event_sequencer RESTART IDENTITY CASCADE",
    f"INSERT INTO host (name) SELECT 'regbench-' || g FROM generate_series(0, {HOSTS - 1}) g ON CONFLICT DO NOTHING",
    "INSERT INTO endpoint (id, host_id, owner_id, interface, network, labels, state, created_at, updated_at, "
    "deleted_at) SELECT g, (SELECT id FROM host WHERE name = 'regbench-' || (g %% 100)), 'regbench-' || g, 'eth0', "
    "'pods', jsonb_build_object('app', 'a' || (g %% 10)), CASE WHEN g > %(n)s - %(live)s THEN 'active' ELSE "
    "'deleted' END, t.held_from, t.held_from, t.held_until FROM generate_series(1, %(n)s) g, "
    "LATERAL (SELECT %(base)s + ((g - 1) / %(live)s) * interval '1 hour' AS held_from, CASE WHEN g > %(n)s - "
    "%(live)s THEN NULL ELSE %(base)s + ((g - 1) / %(live)s + 1) * interval '1 hour' - interval '1 second' END "
    "AS held_until) t",
    "INSERT INTO address_history (space_id, pool_id, lease_id, address, endpoint_id, held_from, held_until) "
    "SELECT (SELECT id FROM address_space WHERE name = 'default'), 0, -e.id, "
    f"'{FIRST_ADDRESS}'::inet + ((e.id - 1) %% %(live)s), e.id, e.created_at, e.deleted_at FROM endpoint e",
    "INSERT INTO event (revision, endpoint_id, kind, at, endpoint) SELECT e.id, e.id, 'added', e.created_at, "
    "jsonb_build_object('id', e.id, 'host', 'regbench-' || (e.id %% 100), 'owner_id', e.owner_id, 'interface', "
    "'eth0', 'network', 'pods', 'mac', '', 'labels', e.labels, 'state', 'active', 'created_at', e.created_at, "
    "'updated_at', e.created_at, 'deleted_at', NULL, 'addresses', jsonb_build_array(jsonb_build_object("
    f"'address', host('{FIRST_ADDRESS}'::inet + ((e.id - 1) %% %(live)s)), 'pool', '', 'space', 'default'))) "
    "FROM endpoint e ORDER BY e.id",
    "INSERT INTO event_sequencer (id, last_revision) VALUES (1, %(n)s)",
    "SELECT setval(pg_get_serial_sequence('endpoint', 'id'), %(n)s)",
    "ANALYZE endpoint, address_history, event",
]
# The server's lookup (ipam.store.endpoints), in psycopg's parameter style.
_LOOKUP_SQL = (
    "SELECT d.doc, a.held_from, a.held_until FROM (SELECT endpoint_id, held_from, held_until "
    "FROM address_history WHERE space_id = 1 AND address = %s::inet AND held_from <= %s "
    "ORDER BY held_from DESC LIMIT 1) a JOIN endpoint_doc d ON d.id = a.endpoint_id"
)


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def migrate(url: str) -> None:
    from ipam.store.migrate import upgrade

    upgrade(url)


def bulk_load(url: str, events: int, live: int, base: datetime) -> float:
    started = time.monotonic()
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        for statement in _LOAD:
            conn.execute(statement, {"n": events, "live": live, "base": base})
    return time.monotonic() - started


def lookup_latencies(
    address: str, url: str, lookups: int, live: int, rounds: int, base: datetime
) -> tuple[list[float], list[float], list[float]]:
    """(LookupAddress, health check, SQL alone) latencies in seconds, sorted."""
    rng = random.Random(3)
    import ipaddress

    first = ipaddress.ip_address(FIRST_ADDRESS)
    asks = []
    for _ in range(lookups):
        slot, round_ = rng.randrange(live), rng.randrange(rounds)
        at = base + timedelta(hours=round_, minutes=rng.uniform(1, 58))
        asks.append((str(first + slot), at, f"regbench-{round_ * live + slot + 1}"))
    grpc_lat, noop_lat, sql_lat = [], [], []
    with IpamClient(address, timeout=30) as ipam:
        for ip, at, owner in asks:
            start = time.perf_counter()
            answer = ipam.lookup_address(ip, at=at)
            grpc_lat.append(time.perf_counter() - start)
            if answer.endpoint.owner_id != owner:
                raise AssertionError(f"{ip} at {at}: got {answer.endpoint.owner_id}, expected {owner}")
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for _ in asks:
            start = time.perf_counter()
            health.Check(health_pb2.HealthCheckRequest(), timeout=30)
            noop_lat.append(time.perf_counter() - start)
    with psycopg.connect(dsn(url)) as conn:
        for ip, at, _ in asks:
            start = time.perf_counter()
            conn.execute(_LOOKUP_SQL, (ip, at)).fetchall()
            sql_lat.append(time.perf_counter() - start)
    return sorted(grpc_lat), sorted(noop_lat), sorted(sql_lat)


def allocate_for(address: str, clients: int, hosts: list[str], seconds: float, tag: str) -> tuple[float, list[float]]:
    """Allocation at full speed, 30% released again (as benchmarks/alloc.py)."""
    return allocate_and_release(address, clients, hosts, ALLOC_POOL, seconds, 0.3, tag)


def watch_process(address: str, since: int, first: int, count: int, seen: SynchronizedArray[Any]) -> None:
    """`count` watchers in threads; watcher k writes its event count and last revision into `seen`."""

    def follow(k: int) -> None:
        with IpamClient(address, timeout=30) as ipam:
            for event in ipam.watch_endpoints(since):
                seen[2 * k] += 1
                seen[2 * k + 1] = event.revision

    for k in range(first, first + count):
        threading.Thread(target=follow, args=(k,), daemon=True).start()
    while True:
        time.sleep(3600)


def fan_out(
    address: str, url: str, watchers: int, clients: int, hosts: list[str], seconds: float
) -> tuple[float, list[float], float, float, float]:
    """(allocations/s, latencies, changes/s produced, delivered/s per watcher, catch-up seconds)."""
    with psycopg.connect(dsn(url)) as conn:
        since = int(conn.execute("SELECT last_revision FROM event_sequencer").fetchone()[0])  # type: ignore[index]
    spawn = multiprocessing.get_context("spawn")
    seen = spawn.Array("q", 2 * watchers, lock=False)
    processes = [
        spawn.Process(
            target=watch_process, args=(address, since, first, min(WATCHERS_PER_PROCESS, watchers - first), seen)
        )
        for first in range(0, watchers, WATCHERS_PER_PROCESS)
    ]
    for p in processes:
        p.start()
    try:
        time.sleep(5)  # every stream open before the clock starts
        rate, latencies = allocate_for(address, clients, hosts, seconds, "fan")
        stopped = time.monotonic()
        delivered_in_window = [seen[2 * k] for k in range(watchers)]
        head = since
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            while True:  # until the sequencer has numbered everything the allocations wrote
                pending = conn.execute("SELECT count(*) FROM event WHERE revision IS NULL").fetchone()
                head = int(conn.execute("SELECT last_revision FROM event_sequencer").fetchone()[0])  # type: ignore[index]
                if pending is not None and pending[0] == 0:
                    break
                time.sleep(0.05)
        while min(seen[2 * k + 1] for k in range(watchers)) < head:
            time.sleep(0.01)
        caught_up = time.monotonic() - stopped
    finally:
        for p in processes:
            p.kill()
            p.join()
    produced = (head - since) / seconds
    per_watcher = sum(delivered_in_window) / watchers / seconds
    return rate, latencies, produced, per_watcher, caught_up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL); its registry is emptied"
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--watchers", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if args.events % args.live:
        parser.error("--events must be a multiple of --live")
    rounds = args.events // args.live
    base = (datetime.now(UTC) - timedelta(hours=rounds + 1)).replace(microsecond=0)

    with database(args.database_url) as url:
        migrate(url)
        load_seconds = bulk_load(url, args.events, args.live, base)
        with ipam_server(url, free_port(), *QUIET_SERVER) as address:
            lookup, noop, sql = lookup_latencies(address, url, args.lookups, args.live, rounds, base)
            hosts = [f"regbench-{h}" for h in range(8)]
            with IpamClient(address, timeout=30) as admin:
                admin.create_pool(ALLOC_POOL, ALLOC_CIDR, 22, cooldown_seconds=0)
            alone, alone_lat = allocate_for(address, args.clients, hosts, args.seconds, "alone")
            watched, watched_lat, produced, per_watcher, caught_up = fan_out(
                address, url, args.watchers, args.clients, hosts, args.seconds
            )
    print(f"events={args.events} live endpoints={args.live} lookups={args.lookups} (bulk load {load_seconds:.0f} s)")
    print(rate_line("LookupAddress (gRPC):", 1 / max(1e-9, sum(lookup) / len(lookup)), lookup))
    print(rate_line("no-op gRPC (same calls):", 1 / max(1e-9, sum(noop) / len(noop)), noop))
    print(rate_line("lookup SQL alone:", 1 / max(1e-9, sum(sql) / len(sql)), sql))
    print(f"lookup p99 target 5 ms: {'met' if percentile(lookup, 0.99) < 5 else 'NOT met'}")
    print(f"clients={args.clients} seconds={args.seconds} watchers={args.watchers}")
    print(rate_line("allocations, no watchers:", alone, alone_lat))
    print(rate_line("allocations, watched:", watched, watched_lat))
    print(f"ratio watched/alone:      {watched / alone:9.2f}")
    print(f"changes produced:         {produced:9.0f}/s")
    print(f"delivered per watcher:    {per_watcher:9.0f}/s   ({per_watcher / max(produced, 1e-9):.2f} of produced)")
    print(f"delivered to all watchers:{per_watcher * args.watchers:9.0f}/s")
    print(f"watchers caught up {caught_up:.2f} s after allocation stopped")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    sys.exit(main())
