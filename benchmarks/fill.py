"""Allocation cost in an empty host subnet against one that already holds 50,000 leases.

    python benchmarks/fill.py [--database-url URL] [--family 6|4] [--leases 50000] [--allocations 1000]

Starts `ipam serve` (on an embedded PostgreSQL when no URL is given) and creates, in an address
space of its own, a pool `fd00::/48` with /64 host subnets (`--family 4`: `10.0.0.0/8` with /14).
Then, one gRPC client calling one at a time:

1. baseline: N allocations into a fresh host subnet while the pool holds no other lease;
2. fills another host's subnet with `--leases` leases by direct SQL (the rows the allocator would
   write: consecutive offsets from the first usable one, the bump pointer past them;
   `--released` of them released, oldest first, as reusable slots);
3. N allocations into the full subnet and N into a fresh empty one, interleaved call by call so
   that both see the same server and database state.

Prints median, p99 and mean latency of each and the ratios. Latencies on a shared machine are
noisy: compare the ratios. With a given database, everything it creates is deleted at the end.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, pool, text

from ipam_client import AddressSpec, IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile

POOLS = {6: ("fd00::/48", 64), 4: ("10.0.0.0/8", 14)}
WARMUP = 50

# The allocator's own rows: offset -> address in the subnet, active, one owner key each.
_FILL = text(
    'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, state, '
    "allocated_at, released_at) "
    "SELECT hs.id, hs.pool_id, hs.space_id, hs.host_id, g, CAST(host(hs.cidr) AS inet) + g, 'fill-' || g, 'eth0', "
    "CASE WHEN g < :first + :released THEN 'released' ELSE 'active' END, "
    "now() - interval '1 day', "
    "CASE WHEN g < :first + :released THEN now() - interval '1 hour' + g * interval '1 millisecond' END "
    "FROM host_subnet hs, generate_series(CAST(:first AS bigint), :first + :count - 1) AS g "
    "WHERE hs.id = :subnet_id"
)
_BUMP = text("UPDATE host_subnet SET next_offset = :next WHERE id = :subnet_id")
_SUBNET = text(
    "SELECT hs.id, hs.next_offset FROM host_subnet hs JOIN host h ON h.id = hs.host_id "
    "JOIN pool p ON p.id = hs.pool_id WHERE h.name = :host AND p.name = :pool"
)
_FORGET_HOSTS = text("DELETE FROM host WHERE name LIKE :prefix")


def fill(url: str, pool_name: str, host: str, count: int, released: int) -> float:
    """Give the host's subnet in the pool `count` leases by SQL; returns the seconds it took."""
    started = time.perf_counter()
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            subnet_id, first = conn.execute(_SUBNET, {"host": host, "pool": pool_name}).one()
            params = {"subnet_id": subnet_id, "first": first, "count": count, "released": released}
            conn.execute(_FILL, params)
            conn.execute(_BUMP, {"subnet_id": subnet_id, "next": first + count})
        # What autovacuum would do soon after such a load: fresh statistics for the planner.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE lease"))
            conn.execute(text("VACUUM ANALYZE host_subnet"))
    finally:
        engine.dispose()
    return time.perf_counter() - started


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def summary(name: str, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    return (
        f"{name:<34} n={len(ordered):<6} median {statistics.median(ordered) * 1000:7.3f} ms   "
        f"p99 {percentile(ordered, 0.99):7.3f} ms   mean {statistics.fmean(ordered) * 1000:7.3f} ms"
    )


def run(url: str, address: str, args: argparse.Namespace) -> None:
    tag = f"fill-{secrets.token_hex(3)}"
    space, pool_name = tag, f"{tag}-v{args.family}"
    cidr, host_prefix = POOLS[args.family]
    hosts = {name: f"{tag}-{name}" for name in ("baseline", "full", "empty")}
    with IpamClient(address, timeout=60) as ipam:
        ipam.create_address_space(space, "benchmarks/fill.py")
        ipam.create_pool(pool_name, cidr, host_prefix, space=space)
        try:
            for host in hosts.values():
                ipam.register_host(host)

            def allocate(host: str, owner: str) -> float:
                key = f"{host}/{owner}"  # an owner key holds one lease per pool, whatever the host
                return timed(lambda: ipam.allocate(host, key, "eth0", [AddressSpec(pool=pool_name)]))

            n = args.allocations
            for i in range(WARMUP):
                allocate(hosts["baseline"], f"warmup-{i}")
            baseline = [allocate(hosts["baseline"], f"baseline-{i}") for i in range(n)]

            ipam.acquire_subnet(hosts["full"], pool_name)
            ipam.acquire_subnet(hosts["empty"], pool_name)
            seconds = fill(url, pool_name, hosts["full"], args.leases, args.released)
            print(f"filled {args.leases} leases ({args.released} released) by SQL in {seconds:.1f} s")

            full: list[float] = []
            empty: list[float] = []
            for i in range(WARMUP):
                allocate(hosts["full"], f"warmup-{i}")
                allocate(hosts["empty"], f"warmup-{i}")
            for i in range(n):
                full.append(allocate(hosts["full"], f"full-{i}"))
                empty.append(allocate(hosts["empty"], f"empty-{i}"))
            held = ipam.list_subnets(pool_name, hosts["full"])[0]
        finally:
            if args.database_url:
                ipam.delete_pool(pool_name, force=True)
                ipam.delete_address_space(space)
                engine = create_engine(url, poolclass=pool.NullPool)
                with engine.begin() as conn:
                    conn.execute(_FORGET_HOSTS, {"prefix": f"{tag}-%"})
                engine.dispose()

    active = held.usage.allocated_addresses
    print(f"pool {cidr} with /{host_prefix} host subnets; the full subnet {held.cidr} holds {active} active leases")
    print(summary("empty pool, empty subnet", baseline))
    print(summary("empty subnet (pool holds the fill)", empty))
    print(summary(f"subnet holding {args.leases} leases", full))
    median = statistics.median
    print(f"ratio full/empty (medians, interleaved): {median(full) / median(empty):5.2f}")
    print(f"ratio full/baseline (medians):           {median(full) / median(baseline):5.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL)")
    parser.add_argument("--family", type=int, choices=sorted(POOLS), default=6)
    parser.add_argument("--leases", type=int, default=50_000, help="leases in the full subnet (default 50000)")
    parser.add_argument("--released", type=int, default=0, help="how many of them are released (default 0)")
    parser.add_argument("--allocations", type=int, default=1000, help="timed allocations per case (default 1000)")
    args = parser.parse_args()
    if not 0 <= args.released <= args.leases:
        parser.error("--released must be between 0 and --leases")
    if args.allocations < 1 or args.leases < 1:
        parser.error("--allocations and --leases must be positive")

    with database(args.database_url) as url, ipam_server(url, free_port(), *QUIET_SERVER) as address:
        run(url, address, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
