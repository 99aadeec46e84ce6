"""Fleet load on one `ipam serve` replica: hosts heartbeating and watching, allocation churn.

    python benchmarks/fleet.py [--hosts 100,250,500,1000] [--seconds 60] [--database-url URL]
                               [--churn 50] [--idle-watchers 0] [--server-args="--max-watchers 2000"]
                               [--target HOST:PORT [--server-pid PID]]

For each host count: a fresh database (an embedded PostgreSQL, or the one given, EMPTIED: its
public schema is dropped) and a fresh `ipam serve`, unless --target names a running server.
Then a space and a pool are created and the simulated hosts start, spread over --ramp seconds:
each registers (RegisterHost), heartbeats every --heartbeat seconds ±20% and holds one
WatchEndpoints stream, as ipam-agent does (benchmarks/fleet_load.py). --idle-watchers more
streams are opened over the ramp, --streams-per-channel per connection; each watches with a
label selector that none of the churn matches (open and quiet: the server still considers every
batch for each of them). After the ramp, for
--seconds, one process allocates --churn addresses per second (a new owner on a random one of
its hosts that has registered, released 2-8 s later) and --sample-watchers of the host streams time each event.
The simulated hosts run in --processes processes (grpc.aio, one event loop each).

Prints one row per host count (latencies in ms), the failures by status code, and one PASS/FAIL
line per host count against the targets: allocate p99 <= 100 ms, heartbeat p99 <= 250 ms, event
delivery p99 <= 1 s with no event missing, no refused stream, no failed call; with idle watchers
also every idle stream held and the server's peak RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import queue
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, pool, text

from ipam_client import IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet_load import Outcome, Plan, StreamCounts, run_process
from harness import QUIET_SERVER, database, free_port, ipam_server_process, percentile

POOL_CIDR, HOST_PREFIX = "10.0.0.0/8", 24  # 65,536 host subnets: one per host and then some
ALLOCATE_P99_MS, HEARTBEAT_P99_MS, DELIVERY_P99_MS = 100.0, 250.0, 1000.0
RSS_LIMIT_MIB = 1024.0
SETTLE_SECONDS = 30.0  # the processes' start-up, before the ramp, at most
RESULTS_WITHIN = 120.0  # seconds after the measurement for every process to report
SAMPLE_EVERY = 0.5  # seconds between two looks at the server's /proc/<pid>


@dataclass
class ServerUse:
    """The server process as /proc shows it: peak RSS (MiB) and threads, CPU over the measurement."""

    rss_mib: float = math.nan
    threads: int = 0
    cpu_percent: float = math.nan


@dataclass
class Row:
    hosts: int
    idle: int
    seconds: float
    outcome: Outcome
    cpu_percent: list[float]  # per generator process, of one core, over the measurement
    server: ServerUse = field(default_factory=ServerUse)

    @property
    def failed_calls(self) -> int:
        return sum(n for key, n in self.outcome.failures.items() if not key.startswith("watch "))


def main() -> int:
    args = parse_args()
    print(
        f"seconds={args.seconds:g} ramp={args.ramp:g} churn={args.churn:g}/s heartbeat={args.heartbeat:g}s "
        f"idle watchers={args.idle_watchers} processes={processes(args)} server args={args.server_args!r}",
        flush=True,
    )
    print(HEADER, flush=True)
    rows = []
    for hosts in args.hosts:
        row = run_count(args, hosts)
        rows.append(row)
        print(format_row(row), flush=True)
    for row in rows:
        if row.outcome.failures:
            failures = ", ".join(f"{key}={n}" for key, n in sorted(row.outcome.failures.items()))
            print(f"failures at {row.hosts} hosts: {failures}")
            for key, details in sorted(row.outcome.details.items()):
                print(f"  first {key}: {details[:200]!r}")
    for row in rows:
        print(verdict(row))
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=_counts, default=[100, 250, 500, 1000], help="host counts, e.g. 100,1000")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measurement per host count, after the ramp")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the hosts start (0: all at once)")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL, EMPTIED for each host count (default: a fresh embedded PostgreSQL)"
    )
    parser.add_argument("--churn", type=float, default=50.0, help="allocations per second, each released 2-8 s later")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="each host's heartbeat interval (±20%%)")
    parser.add_argument("--idle-watchers", type=int, default=0, help="watch streams beyond one per host")
    parser.add_argument("--streams-per-channel", type=int, default=100, help="idle watch streams per connection")
    parser.add_argument("--sample-watchers", type=int, default=20, help="host streams that parse and time events")
    parser.add_argument(
        "--processes", type=int, default=0, help="load generator processes (default: 2 with idle watchers, else 1)"
    )
    parser.add_argument(
        "--server-args", type=shlex.split, default=[], help='more `ipam serve` arguments, e.g. "--max-watchers 2000"'
    )
    parser.add_argument("--target", metavar="HOST:PORT", help="a running server to load instead of starting one")
    parser.add_argument("--server-pid", type=int, help="with --target: its process, for RSS, threads and CPU")
    args = parser.parse_args()
    if args.target and (args.database_url or args.server_args):
        parser.error("--target uses a running server: --database-url and --server-args do not apply")
    if args.server_pid and not args.target:
        parser.error("--server-pid goes with --target")
    if min(args.seconds, args.churn, args.heartbeat, args.streams_per_channel) <= 0 or args.ramp < 0:
        parser.error("--seconds, --churn, --heartbeat and --streams-per-channel must be positive, --ramp not negative")
    return args


def _counts(value: str) -> list[int]:
    counts = [int(part) for part in value.split(",")]
    if min(counts) <= 0:
        raise argparse.ArgumentTypeError("host counts must be positive")
    return counts


def processes(args: argparse.Namespace) -> int:
    return int(args.processes) or (2 if args.idle_watchers else 1)


def run_count(args: argparse.Namespace, hosts: int) -> Row:
    run = f"fleet{hosts}-{int(time.time())}"
    with server(args) as (address, pid):
        with IpamClient(address, timeout=30) as admin:
            admin.create_address_space(run)
            admin.create_pool(run, POOL_CIDR, HOST_PREFIX, space=run, cooldown_seconds=0)
        count = processes(args)
        plans = [
            Plan(
                address=address,
                run=run,
                hosts=list(range(p, hosts, count)),
                all_hosts=hosts,
                space=run,
                pool=run,
                ramp=args.ramp,
                seconds=args.seconds,
                heartbeat=args.heartbeat,
                churn=args.churn if p == 0 else 0.0,
                sampled=args.sample_watchers if p == 0 else 0,
                idle_watchers=args.idle_watchers // count + (p < args.idle_watchers % count),
                streams_per_channel=args.streams_per_channel,
            )
            for p in range(count)
        ]
        outcomes, server_use = generate(plans, pid)
    merged = Outcome()
    for outcome in outcomes:
        merged.heartbeat += outcome.heartbeat
        merged.allocate += outcome.allocate
        merged.delivery += outcome.delivery
        merged.missing += outcome.missing
        merged.failures += outcome.failures
        merged.details = outcome.details | merged.details
        merged.host_streams.add(outcome.host_streams)
        merged.idle_streams.add(outcome.idle_streams)
        merged.loop_lag += outcome.loop_lag
    for latencies in (merged.heartbeat, merged.allocate, merged.delivery, merged.loop_lag):
        latencies.sort()
    cpu = [100 * outcome.cpu_seconds / args.seconds for outcome in outcomes]
    return Row(hosts, args.idle_watchers, args.seconds, merged, cpu, server_use)


@contextlib.contextmanager
def server(args: argparse.Namespace) -> Iterator[tuple[str, int | None]]:
    """(address, pid or None) of the server to load: a fresh one on a fresh database, or --target."""
    if args.target:
        yield args.target, args.server_pid
        return
    with database(args.database_url) as url:
        if args.database_url:
            empty(url)
        with ipam_server_process(url, free_port(), *QUIET_SERVER, *args.server_args) as (address, process):
            yield address, process.pid


def empty(url: str) -> None:
    """Drop the database's public schema: `ipam serve` migrates it again from nothing."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def generate(plans: list[Plan], pid: int | None) -> tuple[list[Outcome], ServerUse]:
    """Run each plan in a process of its own from one start; watch the server while they run."""
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    go = spawn.Event()
    start = spawn.Value("d", 0.0)
    workers = [spawn.Process(target=run_process, args=(plan, go, start, results)) for plan in plans]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            if results.get(timeout=SETTLE_SECONDS) != "ready":
                raise RuntimeError("a load process failed to start")
        start.value = time.monotonic() + 0.5
        go.set()
        plan = plans[0]
        measure = (start.value + plan.ramp, start.value + plan.ramp + plan.seconds)
        outcomes, use = collect(results, len(workers), pid, measure)
    finally:
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
    return outcomes, use


def collect(
    results: multiprocessing.Queue[object], count: int, pid: int | None, measure: tuple[float, float]
) -> tuple[list[Outcome], ServerUse]:
    """The processes' outcomes, and the server's peak RSS and threads (ramp and measurement) and
    its CPU over the measurement, sampled every SAMPLE_EVERY seconds meanwhile."""
    outcomes: list[Outcome] = []
    use = ServerUse(rss_mib=0.0 if pid else math.nan)
    cpu_from: tuple[float, float] | None = None
    cpu_to: tuple[float, float] | None = None
    deadline = measure[1] + RESULTS_WITHIN
    while len(outcomes) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"a load process did not report within {RESULTS_WITHIN:g} s of the measurement's end")
        if pid:
            now = time.monotonic()
            try:
                rss, threads, cpu = proc_status(pid)
            except OSError as err:
                raise RuntimeError(f"the server process {pid} is gone: {err}") from err
            use.rss_mib, use.threads = max(use.rss_mib, rss), max(use.threads, threads)
            if cpu_from is None and now >= measure[0]:
                cpu_from = (now, cpu)
            if cpu_to is None and now >= measure[1]:
                cpu_to = (now, cpu)
        try:
            result = results.get(timeout=SAMPLE_EVERY)
        except queue.Empty:
            continue
        if not isinstance(result, Outcome):
            raise RuntimeError(f"a load process failed:\n{result}")
        outcomes.append(result)
    if cpu_from and cpu_to and cpu_to[0] > cpu_from[0]:
        use.cpu_percent = 100 * (cpu_to[1] - cpu_from[1]) / (cpu_to[0] - cpu_from[0])
    return outcomes, use


def proc_status(pid: int) -> tuple[float, int, float]:
    """(RSS in MiB, threads, CPU seconds so far) of process `pid`, from /proc."""
    rss, threads = 0.0, 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == "VmRSS":
            rss = int(value.split()[0]) / 1024
        elif key == "Threads":
            threads = int(value)
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return rss, threads, cpu


HEADER = (
    f"{'hosts':>5} {'idle':>5} | {'heartbeat n':>11} {'p50':>6} {'p99':>6} | {'allocs/s':>8} {'p50':>6} {'p99':>6} "
    f"| {'events n':>8} {'p50':>6} {'p99':>6} {'miss':>4} | {'streams':>7} {'refused':>7} {'silent':>6} "
    f"| {'failed':>6} | {'RSS MiB':>7} {'thr':>5} {'cpu%':>4} | {'gen cpu%':>8} {'lag p99':>7}"
)


def format_row(row: Row) -> str:
    out = row.outcome
    streams = StreamCounts()
    streams.add(out.host_streams)
    streams.add(out.idle_streams)
    lat = [percentile(values, q) for values in (out.heartbeat, out.allocate, out.delivery) for q in (0.5, 0.99)]
    gen = "/".join(f"{cpu:.0f}" for cpu in row.cpu_percent)
    srv = row.server
    return (
        f"{row.hosts:>5} {row.idle:>5} | {len(out.heartbeat):>11} {lat[0]:6.1f} {lat[1]:6.1f} "
        f"| {len(out.allocate) / row.seconds:8.1f} {lat[2]:6.1f} {lat[3]:6.1f} "
        f"| {len(out.delivery):>8} {lat[4]:6.1f} {lat[5]:6.1f} {out.missing:>4} "
        f"| {streams.accepted:>7} {streams.refused:>7} {streams.silent:>6} | {row.failed_calls:>6} "
        f"| {srv.rss_mib:7.0f} {srv.threads:>5} {srv.cpu_percent:4.0f} | {gen:>8} {percentile(out.loop_lag, 0.99):7.1f}"
    )


def verdict(row: Row) -> str:
    """PASS or FAIL against the targets, with each measured value."""
    out = row.outcome
    allocate, heartbeat = percentile(out.allocate, 0.99), percentile(out.heartbeat, 0.99)
    delivery = percentile(out.delivery, 0.99)
    refused = out.host_streams.refused + out.idle_streams.refused
    failed = row.failed_calls + out.host_streams.failed + out.idle_streams.failed
    checks = [
        (f"allocate p99 {allocate:.1f} <= {ALLOCATE_P99_MS:g} ms", allocate <= ALLOCATE_P99_MS),
        (f"heartbeat p99 {heartbeat:.1f} <= {HEARTBEAT_P99_MS:g} ms", heartbeat <= HEARTBEAT_P99_MS),
        (
            f"event delivery p99 {delivery:.1f} <= {DELIVERY_P99_MS:g} ms, {out.missing} missing",
            delivery <= DELIVERY_P99_MS and out.missing == 0,
        ),
        (f"{refused} refused streams", refused == 0),
        (f"{failed} failed calls and streams", failed == 0),
    ]
    if row.idle:
        held = out.idle_streams.accepted - out.idle_streams.silent
        checks.append((f"{held} of {row.idle} idle streams held", held == row.idle))
        rss = row.server.rss_mib
        checks.append((f"server RSS {rss:.0f} <= {RSS_LIMIT_MIB:g} MiB", rss <= RSS_LIMIT_MIB))
    result = "PASS" if all(ok for _, ok in checks) else "FAIL"
    details = "; ".join(f"{text} {'ok' if ok else 'NOT met'}" for text, ok in checks)
    return f"{result} {row.hosts} hosts, {row.idle} idle watchers: {details}"


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    sys.exit(main())
