"""Garbage collection at scale: leaked leases among live ones, and allocation during the sweep.

    python benchmarks/gc.py [--database-url URL] [--live 1000000] [--leaked 100000] [--clients 16]
                            [--seconds 8] [--duty 1]

Starts `ipam serve --gc-interval 0` (on an embedded PostgreSQL when no URL is given) and loads,
with SQL, one pool of /16 host subnets: live hosts holding `--live` active leases and dead hosts
(silent for a day) holding `--leaked`, 10,000 per host, all allocated a day ago. Then, in one run:
C clients allocate on the live hosts for T seconds (the baseline rate); the same load runs again
from a second before one RunGc call (grace 1 h) until the call returns, and the allocations
completed while that call was in progress give the rate during the sweep; then until the
registry has caught up on the reclaimed leases (registry_backlog empty: the servers' catch-up
worker closes their holdings and ends their endpoints after the sweep), and the rate meanwhile;
then T seconds more (after it all: whether the rate drifts by itself). Prints the sweep's duration and what it
reclaimed, the allocation rates and the ratio during/before (the issue's targets: every leaked
lease reclaimed in under 10 s, allocations during the sweep at least 80% of the baseline), and
checks that every live lease is still active. `--duty` paces the sweep (RunGc's duty: the share of
time it works); below 1 it trades sweep time for allocation throughput. Use a scratch database:
the live part of the load stays in it and a rerun with the same --live reuses it (the leaked part is loaded every run).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import psycopg

from ipam_client import AddressSpec, IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from alloc import rate_line, run_clients
from harness import QUIET_SERVER, database, free_port, ipam_server

PER_HOST = 10_000
POOL = "bench-gc"
GRACE = 3600


def load(url: str, live: int, leaked: int) -> None:
    """Hosts, subnets and leases straight into the tables (the API would take an hour). The live
    part is loaded once per database (a rerun with the same --live reuses it); the leaked part
    is loaded afresh every run."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    live_hosts, dead_hosts = -(-live // PER_HOST), -(-leaked // PER_HOST)
    with psycopg.connect(dsn, autocommit=True) as conn:
        loaded = conn.execute("SELECT count(*) FROM host WHERE name LIKE 'live-%'").fetchone()
        if loaded and loaded[0] not in (0, live_hosts):
            raise SystemExit("the database holds another --live load: use a fresh scratch database")
        # Dead hosts stay from run to run (the endpoint history names them); their subnets go.
        conn.execute("DELETE FROM host_subnet WHERE host_id IN (SELECT id FROM host WHERE name LIKE 'dead-%')")
        conn.execute("DELETE FROM free_block")
        conn.execute("TRUNCATE gc_record")
        conn.execute(
            "INSERT INTO host (name, last_seen_at) SELECT 'dead-' || n, now() - interval '1 day' "
            "FROM generate_series(1, %s) n ON CONFLICT (name) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at",
            (dead_hosts,),
        )
        parts = [("dead-", leaked)]
        if not loaded or loaded[0] == 0:
            conn.execute(
                "INSERT INTO host (name, last_seen_at) SELECT 'live-' || n, now() FROM generate_series(1, %s) n",
                (live_hosts,),
            )
            parts.append(("live-", live))
        # One /16 per host without one, after the highest block in use.
        conn.execute(
            "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit, created_at) "
            "SELECT p.id, p.space_id, h.id, b.base + n - 1, "
            "set_masklen('10.0.0.0'::cidr + ((b.base + n - 1) * 65536), 16), "
            "%s, 65535, now() - interval '1 day' FROM pool p, "
            "(SELECT coalesce(max(idx) + 1, 0) AS base FROM host_subnet) b, "
            "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM host h "
            " WHERE NOT EXISTS (SELECT 1 FROM host_subnet hs WHERE hs.host_id = h.id)) h WHERE p.name = %s",
            (PER_HOST + 2, POOL),
        )
        conn.execute("UPDATE pool SET next_block = (SELECT max(idx) + 1 FROM host_subnet) WHERE name = %s", (POOL,))
        for prefix, total in parts:
            conn.execute(
                'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, '
                "state, allocated_at) SELECT hs.id, hs.pool_id, hs.space_id, hs.host_id, n, hs.cidr + n, "
                "h.name || '-' || n, 'eth0', "
                "'active', now() - interval '1 day' FROM host_subnet hs JOIN host h ON h.id = hs.host_id "
                "CROSS JOIN generate_series(2, %s) n WHERE h.name LIKE %s "
                "AND (split_part(h.name, '-', 2)::int - 1) * %s + n - 2 < %s",
                (PER_HOST + 1, prefix + "%", PER_HOST, total),
            )
        conn.execute("VACUUM ANALYZE")
        # The load's leases wrote "added" events: let the server number them before measuring.
        while conn.execute("SELECT EXISTS (SELECT 1 FROM event WHERE revision IS NULL)").fetchone() == (True,):
            time.sleep(0.5)


def allocations(
    address: str, clients: int, seconds: float, live_hosts: int, tag: str, until: threading.Event | None = None
) -> tuple[float, list[float], list[float]]:
    """(allocations/s, latencies, the monotonic time each allocation completed); for `seconds`,
    or until `until` is set."""
    ipams = [IpamClient(address, timeout=60) for _ in range(clients)]
    completed: list[float] = []

    def allocate(client: int, i: int) -> None:
        host = f"live-{1 + (client * 7919 + i) % live_hosts}"
        ipams[client].allocate(host, f"{tag}-{client}-{i}", "eth0", [AddressSpec(pool=POOL)])
        completed.append(time.monotonic())

    try:
        calls, latencies = run_clients(clients, seconds, allocate, until)
    finally:
        for ipam in ipams:
            ipam.close()
    return calls / seconds, latencies, completed


def wait_for_registry(url: str, caught_up: threading.Event, sweep: dict[str, object]) -> None:
    """Set `caught_up` (and sweep["caught_up"], monotonic) once registry_backlog is empty."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        while conn.execute("SELECT EXISTS (SELECT 1 FROM registry_backlog)").fetchone() == (True,):
            time.sleep(0.05)
    sweep["caught_up"] = time.monotonic()
    caught_up.set()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (default: an embedded PostgreSQL)")
    parser.add_argument("--live", type=int, default=1_000_000)
    parser.add_argument("--leaked", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--duty", type=float, default=1.0, help="RunGc's duty, 0.05 .. 1 (default: 1, no pacing)")
    args = parser.parse_args()
    live_hosts = -(-args.live // PER_HOST)
    if live_hosts + -(-args.leaked // PER_HOST) > 256:
        raise SystemExit("at most 2,560,000 leases: the pool has 256 host subnets")

    with (
        database(args.database_url) as url,
        ipam_server(url, free_port(), "--gc-interval", "0", *QUIET_SERVER) as address,
    ):
        with IpamClient(address, timeout=60) as admin:
            if POOL not in {pool.name for pool in admin.list_pools()}:
                admin.create_pool(POOL, "10.0.0.0/8", 16, cooldown_seconds=0)
        started = time.monotonic()
        load(url, args.live, args.leaked)
        print(f"loaded {args.live:,} live and {args.leaked:,} leaked leases in {time.monotonic() - started:.0f} s")

        baseline, base_lat, _ = allocations(address, args.clients, args.seconds, live_hosts, "before")
        sweep: dict[str, object] = {}

        done = threading.Event()

        def collect() -> None:
            time.sleep(1.0)  # the load is running
            try:
                with IpamClient(address, timeout=600) as ipam:
                    sweep["begin"] = time.monotonic()
                    sweep["reply"] = ipam.run_gc(grace_seconds=GRACE, max_items=1, duty=args.duty)
                    sweep["end"] = time.monotonic()
            finally:
                done.set()

        collector = threading.Thread(target=collect)
        collector.start()
        # The same load, from a second before the sweep until it ends.
        _, during_lat, completed = allocations(address, args.clients, 3600, live_hosts, "during", done)
        collector.join()
        # The same load again until the registry has caught up on the reclaimed leases (the
        # servers' catch-up worker empties registry_backlog), then for T seconds more.
        caught_up = threading.Event()
        catching_up = threading.Thread(target=wait_for_registry, args=(url, caught_up, sweep))
        catching_up.start()
        _, catch_up_lat, catch_up_completed = allocations(address, args.clients, 3600, live_hosts, "catchup", caught_up)
        catching_up.join()
        after_rate, after_lat, _ = allocations(address, args.clients, args.seconds, live_hosts, "after")
        with IpamClient(address, timeout=60) as ipam:
            after_reply = ipam.run_gc(grace_seconds=GRACE, dry_run=True)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            live_active = conn.execute(
                "SELECT count(*) FROM lease l JOIN host h ON h.id = l.host_id "
                "WHERE h.name LIKE 'live-%%' AND l.state = 'active' AND l.allocated_at < now() - interval '1 hour'"
            ).fetchone()

    reply = sweep["reply"]
    reclaimed = {f"{c.kind}:{c.reason}": c.reclaimed for c in reply.counts}  # type: ignore[attr-defined]
    begin, end = float(sweep["begin"]), float(sweep["end"])  # type: ignore[arg-type]
    seconds = end - begin
    # Allocations that completed while the RunGc call was in progress.
    during = sum(1 for t in completed if begin <= t <= end) / seconds
    caught_up_at = float(sweep["caught_up"])  # type: ignore[arg-type]
    catch_up_seconds = caught_up_at - end
    # Under a second the rate says nothing (the registry was done with the sweep: not deferred).
    catch_up_rate = (
        sum(1 for t in catch_up_completed if t <= caught_up_at) / catch_up_seconds if catch_up_seconds >= 1 else None
    )
    print(f"clients={args.clients} seconds={args.seconds} live={args.live:,} leaked={args.leaked:,} duty={args.duty:g}")
    print(f"sweep: {seconds:.2f} s, reclaimed {reclaimed} (target: all {args.leaked:,} leases in under 10 s)")
    print(f"left after the sweep (dry run): {sum(c.candidates for c in after_reply.counts)}")
    print(f"live leases of before the run still active: {live_active[0] if live_active else 0:,} of {args.live:,}")
    print(rate_line("allocations before:", baseline, base_lat))
    print(rate_line("allocations during sweep:", during, during_lat) + "   (latencies: the whole second run)")
    print(f"registry caught up (holdings closed, endpoints ended, events logged) {catch_up_seconds:.2f} s later")
    if catch_up_rate is not None:
        print(rate_line("allocations while it caught up:", catch_up_rate, catch_up_lat))
    print(rate_line("allocations after:", after_rate, after_lat))
    print(
        f"ratio during/before: {during / baseline:5.2f}   (target >= 0.80)   "
        + (f"catching up/before: {catch_up_rate / baseline:5.2f}   " if catch_up_rate is not None else "")
        + f"after/before: {after_rate / baseline:5.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
