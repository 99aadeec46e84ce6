"""PostgreSQL high availability with the real thing: a Patroni cluster (etcd, a primary and a
synchronous standby) under two `ipam serve` replicas that are given both hosts in one URL with
target_session_attrs=read-write. While clients allocate and release and a watcher streams the
endpoint registry through each replica, the primary is lost in one of three ways: its machine dies
(Patroni and the postmaster killed with SIGKILL: the standby must take over), its postmaster alone
is killed with SIGKILL (Patroni restarts it in place or fails over), or a Patroni switchover.

Then: every acknowledged allocation and release is in the new primary, nothing is held twice,
`ipam check` is clean, clients saw UNAVAILABLE only, each watcher got every revision exactly once,
each replica listens on the new primary, and `ipam migrate` runs against the cluster.
The load is a fixed number of operations per client after the switch; the time clients saw the
database gone is printed (pytest -s), not asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import grpc
import pytest
from db_invariants import INVARIANTS
from patroni_cluster import ClusterUnavailable, Node, PatroniCluster, new_cluster
from processes import ServerProcess, free_port, wait_until_serving
from registry_checks import EVENT_WAIT_SECONDS, caught_up
from sqlalchemy import Engine, create_engine, pool, text

from ipam_client import AddressSpec, IpamClient, IpamClientError, registry_pb

CLIENTS = 4
OPS_BEFORE = 40  # acknowledged operations (all clients) before the primary is lost
OPS_AFTER = 15  # acknowledged operations per client after the new primary answered
UNAVAILABLE_AT_MOST = 120.0  # seconds a caller keeps retrying one operation (as an agent would)
CALL_TIMEOUT = 30.0
POOL = "ha-v4"
T = TypeVar("T")


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    allocated: dict[str, str] = field(default_factory=dict)  # owner -> address, acknowledged
    released: set[str] = field(default_factory=set)  # owners whose release was acknowledged
    unavailable: list[float] = field(default_factory=list)  # monotonic times of UNAVAILABLE replies
    successes: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost_at: float = 0.0  # when the primary was lost; 0 before
    done_after: dict[int, int] = field(default_factory=dict)  # client -> operations after the loss

    def ok(self, n: int) -> None:
        now = time.monotonic()
        with self.lock:
            self.successes.append(now)
            if self.lost_at and self.unavailable_since_loss():
                self.done_after[n] = self.done_after.get(n, 0) + 1

    def unavailable_since_loss(self) -> bool:
        return any(t >= self.lost_at for t in self.unavailable)

    def outage_seconds(self) -> float:
        """From the first UNAVAILABLE after the loss to the first success after the last one."""
        seen = [t for t in self.unavailable if t >= self.lost_at]
        if not seen:
            return 0.0
        first_ok = min((t for t in self.successes if t > max(seen)), default=float("nan"))
        return first_ok - min(seen)


def _call(ledger: Ledger, n: int, what: str, fn: Callable[[], T]) -> T:
    """`fn()` until it succeeds; UNAVAILABLE is retried (and noted), anything else is an error."""
    deadline = time.monotonic() + UNAVAILABLE_AT_MOST
    while time.monotonic() < deadline:
        try:
            result = fn()
            ledger.ok(n)
            return result
        except IpamClientError as exc:
            if exc.code is not grpc.StatusCode.UNAVAILABLE:
                raise AssertionError(f"{what}: {exc.code.name}: {exc}") from exc
            with ledger.lock:
                ledger.unavailable.append(time.monotonic())
            time.sleep(0.1)
    raise AssertionError(f"{what}: still UNAVAILABLE after {UNAVAILABLE_AT_MOST:.0f}s")


def _client(target: str, n: int, ledger: Ledger, stop: threading.Event) -> None:
    """Allocate owner after owner; release every second one. Each acknowledgement goes to the ledger."""
    host = f"host-{n}"
    try:
        with IpamClient(target, timeout=CALL_TIMEOUT, retries=0) as ipam:
            i = 0
            while not stop.is_set():
                owner = f"c{n}-{i}"
                reply = _call(
                    ledger,
                    n,
                    f"allocate {owner}",
                    partial(ipam.allocate, host, owner, "eth0", [AddressSpec(pool=POOL)]),
                )
                with ledger.lock:
                    ledger.allocated[owner] = reply.leases[0].address
                if i % 2:
                    _call(ledger, n, f"release {owner}", partial(ipam.release_owner, owner, "eth0"))
                    with ledger.lock:
                        ledger.released.add(owner)
                i += 1
    except Exception as exc:
        with ledger.lock:
            ledger.errors.append(f"client {n}: {exc}")


class Watcher:
    """A watch stream from one replica, from `since`, read by a thread into `events`."""

    def __init__(self, address: str, since: int) -> None:
        self.events: list[registry_pb.EndpointEvent] = []
        self.error: BaseException | None = None
        self.since = since
        self._client = IpamClient(address, retries=100)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._client.watch_endpoints(self.since):
                self.events.append(event)
        except (IpamClientError, ValueError) as exc:  # ValueError: closed under it
            self.error = exc

    def reached(self, revision: int) -> bool:
        """Has received `revision`, or has stopped with an error."""
        return self.error is not None or (self.events[-1].revision if self.events else self.since) >= revision

    def close(self) -> None:
        self._client.close()


@contextmanager
def ipam_servers(url: str, logs: Path, count: int) -> Iterator[list[ServerProcess]]:
    """`count` replicas of `ipam serve` on `url`, stopped on the way out."""
    started: list[ServerProcess] = []
    try:
        for i in range(count):
            address = f"127.0.0.1:{free_port()}"
            log_path = logs / f"server-{i}.log"
            command = [sys.executable, "-m", "ipam", "serve", "--database-url", url, "--listen", address]
            command += ["--gc-interval", "0"]
            with log_path.open("wb") as log:
                process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            started.append(ServerProcess(address, process, log_path))
            wait_until_serving(started[-1])
        yield started
    finally:
        for proc in started:
            proc.stop()


def _ipam(*args: str, server: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IPAM_SERVER": server} if server else dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "ipam", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _lose_primary(cluster: PatroniCluster, how: str) -> Node:
    """Lose the current primary; returns the node that leads once the cluster has recovered."""
    old = cluster.leader()
    assert old is not None
    old_pid = cluster.postmaster_pid(old)
    other = next(node for node in cluster.nodes if node is not old)
    if how == "kill -9 node":
        cluster.kill_node(old)
    elif how == "kill -9 postmaster":
        cluster.kill_postmaster(old)
    else:
        cluster.switchover(old, other)

    def recovered() -> bool:
        leader = cluster.leader()
        # Patroni may restart a crashed primary in place rather than fail over: a new postmaster.
        return leader is other or (leader is old and cluster.postmaster_pid(old) not in (None, old_pid))

    cluster.wait_for(recovered, "new primary", 120)
    leader = cluster.leader()
    assert leader is not None
    print(f"\n{how}: the primary was {old.name}, now {leader.name}")
    return leader


@pytest.fixture
def cluster() -> Iterator[PatroniCluster]:
    """A running cluster, stopped however the test ends; skipped (a failure under CI) where patroni,
    etcd or PostgreSQL 15 is missing."""
    try:
        made = new_cluster()
    except ClusterUnavailable as why:
        pytest.skip(str(why))
    try:
        try:
            made.start()
        except ClusterUnavailable as why:
            pytest.skip(str(why))
        yield made
    finally:
        made.stop()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("how", ["kill -9 node", "kill -9 postmaster", "switchover"])
def test_losing_the_primary_under_load_loses_nothing_acknowledged(
    how: str, cluster: PatroniCluster, tmp_path: Path
) -> None:
    url = cluster.url()
    migrated = _ipam("migrate", "--database-url", url)
    assert migrated.returncode == 0, migrated.stderr
    with ExitStack() as stack:
        replicas = stack.enter_context(ipam_servers(url, tmp_path, 2))
        target = "ipv4:" + ",".join(r.address for r in replicas)
        admin = stack.enter_context(IpamClient(replicas[0].address, retries=0))
        admin.create_pool(POOL, "10.96.0.0/16", 24)
        for n in range(CLIENTS):
            admin.register_host(f"host-{n}")
        head = admin.list_endpoints_page(registry_pb.ListEndpointsRequest(page_size=1)).revision
        watchers = [Watcher(r.address, head) for r in replicas]
        for watcher in watchers:
            stack.callback(watcher.close)

        ledger, stop = Ledger(), threading.Event()
        threads = [
            threading.Thread(target=_client, args=(target, n, ledger, stop), daemon=True) for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        _wait(lambda: len(ledger.successes) >= OPS_BEFORE or bool(ledger.errors), "load before the loss")
        _wait(lambda: all(w.events for w in watchers), "each watcher streaming before the loss")
        ledger.lost_at = time.monotonic()
        new_primary = _lose_primary(cluster, how)
        # Every client has seen the database go and come back, and worked on for a while.
        _wait(
            lambda: all(ledger.done_after.get(n, 0) >= OPS_AFTER for n in range(CLIENTS)) or bool(ledger.errors),
            "the load after the loss",
            180,
        )
        stop.set()
        for thread in threads:
            thread.join(CALL_TIMEOUT * 2)
        print(f"\n{how}: clients saw the database away for {ledger.outage_seconds():.2f}s")
        assert ledger.errors == []
        assert ledger.unavailable_since_loss(), "the loss of the primary went unnoticed: nothing was tested"

        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            port = conn.execute(text("SELECT inet_server_port()")).scalar_one()
            assert port == new_primary.pg_port
        _check_ledger(engine, ledger)
        _check_listeners(engine, replicas)
        final = _head(engine)
        for watcher in watchers:
            _wait(partial(watcher.reached, final), "the watcher to catch up")
            assert watcher.error is None
            revisions = [e.revision for e in watcher.events]
            assert revisions == list(range(head + 1, final + 1)), "a revision missed or repeated"
            added = {e.endpoint.owner_id for e in watcher.events if e.type == registry_pb.ENDPOINT_EVENT_TYPE_ADDED}
            assert added >= set(ledger.allocated), "an acknowledged allocation never reached the watcher"

        checked = _ipam("check", server=replicas[1].address)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        # Migrations take their advisory lock on the new primary: both return, nothing to do.
        runs = [subprocess.Popen([sys.executable, "-m", "ipam", "migrate", "--database-url", url]) for _ in range(2)]
        assert [run.wait(120) for run in runs] == [0, 0]
        engine.dispose()
        for replica in replicas:  # recovered by themselves, with nothing unexpected in their logs
            assert replica.process.poll() is None, replica.output()
            assert "Traceback" not in replica.output()


def _check_ledger(engine: Engine, ledger: Ledger) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.owner_id, host(l.address), l.state FROM lease l JOIN pool p ON p.id = l.pool_id "
                "WHERE p.name = :pool"
            ),
            {"pool": POOL},
        ).all()
        leases: dict[str, list[tuple[str, str]]] = {}
        for owner, address, state in rows:
            leases.setdefault(owner, []).append((address, state))
        for owner, address in ledger.allocated.items():
            active = [a for a, state in leases.get(owner, []) if state == "active"]
            # A released slot is reused by later owners, so a release shows as "no active lease".
            want = [] if owner in ledger.released else [address]
            assert active == want, f"{owner}: acknowledged {address}, released: {owner in ledger.released}"
        for name, query in INVARIANTS.items():
            assert conn.execute(text(query)).all() == [], name


def _check_listeners(engine: Engine, replicas: list[ServerProcess]) -> None:
    """Each replica LISTENs (event hub and registry share it) on the new primary: 1 connection per replica."""

    def listening() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ipam-listen'")
                ).scalar_one()
            )

    _wait(lambda: listening() == len(replicas), "every replica listening on the new primary")


def _head(engine: Engine) -> int:
    """The last revision, once the registry has applied every lease change and all are numbered."""
    caught_up(engine)

    def numbered() -> bool:
        with engine.connect() as conn:
            return not conn.execute(text("SELECT EXISTS (SELECT 1 FROM event WHERE revision IS NULL)")).scalar_one()

    _wait(numbered, "every event numbered")
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT coalesce(max(last_revision), 0) FROM event_sequencer")).scalar_one())


def _wait(condition: Callable[[], bool], what: str, seconds: float = EVENT_WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:.0f}s for {what}"
        time.sleep(0.1)
