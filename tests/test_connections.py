"""The connections a replica opens: a fixed pool (`--db-pool-size`) and one LISTEN connection,
the same backends from warm-up to the end of a load, and a clear UNAVAILABLE when the pool stays
busy. Counted in pg_stat_activity by application_name, which the database URL sets per replica."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import pytest
from conftest import in_process_server
from processes import ServerProcess, ServerProcessFactory
from sqlalchemy import Engine, create_engine, pool, text
from sqlalchemy.engine import make_url

from ipam.store import connections
from ipam.store.engine import make_engine
from ipam_client import AddressSpec, IpamClient
from ipam_client.errors import IpamClientError

CLIENTS = 32
WARM_UP = 5  # allocations per client before the backends are noted
LOAD = 40  # allocations per client while pg_stat_activity is sampled


@dataclass
class Backends:
    """What pg_stat_activity showed of one replica (pool and listener) at each look."""

    pool: list[set[int]] = field(default_factory=list)
    listen: list[set[int]] = field(default_factory=list)


@pytest.fixture
def activity(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def named(database_url: str, name: str) -> str:
    return make_url(database_url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def look(activity: Engine, name: str, backends: Backends) -> None:
    query = text(
        "SELECT pid, application_name FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name IN (:pool, :listen)"
    )
    with activity.connect() as conn:
        rows = conn.execute(query, {"pool": name, "listen": name + connections.LISTEN_SUFFIX}).all()
    backends.pool.append({pid for pid, app in rows if app == name})
    backends.listen.append({pid for pid, app in rows if app != name})


def allocate(address: str, client: int, owners: range) -> None:
    with IpamClient(address, retries=0) as ipam:
        for owner in owners:
            ipam.allocate(f"h{client}", f"c{client}-{owner}", "eth0", [AddressSpec(pool="p")])


def load(address: str, owners: range, watch: threading.Event | None = None) -> None:
    """CLIENTS clients, each on its own channel and host, allocating `owners` concurrently."""
    with ThreadPoolExecutor(CLIENTS) as clients:
        for result in [clients.submit(allocate, address, c, owners) for c in range(CLIENTS)]:
            result.result()
    if watch is not None:
        watch.set()


def prepare(address: str) -> None:
    with IpamClient(address, retries=0) as ipam:
        ipam.create_pool("p", "10.0.0.0/12", 24)
        for c in range(CLIENTS):
            ipam.register_host(f"h{c}")


def sample_while_loaded(activity: Engine, names: list[str], address: str) -> dict[str, Backends]:
    seen = {name: Backends() for name in names}
    done = threading.Event()
    loader = threading.Thread(target=load, args=(address, range(WARM_UP, WARM_UP + LOAD), done))
    loader.start()
    while not done.is_set():
        for name in names:
            look(activity, name, seen[name])
        done.wait(0.05)
    loader.join()
    for name in names:
        look(activity, name, seen[name])
    return seen


def test_a_replica_keeps_its_pool_and_one_listener_under_load(
    server_process_factory: ServerProcessFactory, database_url: str, activity: Engine
) -> None:
    name = f"ipam-test-{uuid.uuid4().hex[:8]}"
    proc = server_process_factory("--database-url", named(database_url, name), "--db-pool-size", "4")
    prepare(proc.address)
    load(proc.address, range(WARM_UP))
    warm = Backends()
    look(activity, name, warm)
    assert 1 <= len(warm.pool[0]) <= 4 and len(warm.listen[0]) == 1

    seen = sample_while_loaded(activity, [name], proc.address)[name]

    assert len(seen.pool) >= 3  # looked at several times during the load
    assert max(len(pids) for pids in seen.pool) <= 4
    assert all(pids == warm.listen[0] for pids in seen.listen)
    # No churn: the backends of the load are those of the warm-up (a pool that was not full then
    # may have added some, never replaced one), and all of them are still there at the end.
    during = set().union(*seen.pool)
    assert warm.pool[0] <= seen.pool[-1] and during == seen.pool[-1], (warm.pool[0], seen.pool)
    assert "Traceback" not in proc.output()


def test_twenty_replicas_at_the_default_fit_postgresql_default_max_connections() -> None:
    assert connections.per_replica() == connections.DEFAULT_POOL_SIZE + 1
    fit = connections.replicas_that_fit()
    assert fit >= 20, f"{fit} replicas of {connections.per_replica()} connections fit 97"


def test_replicas_at_the_default_hold_no_more_than_that(
    server_process_factory: ServerProcessFactory, database_url: str, activity: Engine
) -> None:
    names = [f"ipam-test-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    replicas: list[ServerProcess] = [server_process_factory("--database-url", named(database_url, n)) for n in names]
    prepare(replicas[0].address)
    seen = sample_while_loaded(activity, names, replicas[1].address)
    for replica in (replicas[0], replicas[2]):  # the others, lightly: a watch and a heartbeat each
        with IpamClient(replica.address, retries=0) as ipam:
            ipam.register_host("h0")
    for name in names:
        look(activity, name, seen[name])
    total = max(
        sum(len(seen[n].pool[i]) + len(seen[n].listen[i]) for n in names) for i in range(len(seen[names[0]].pool))
    )
    assert total <= 3 * connections.per_replica()
    for name in names:
        assert all(len(pids) <= connections.DEFAULT_POOL_SIZE for pids in seen[name].pool)
        assert all(len(pids) == 1 for pids in seen[name].listen)


def test_a_call_that_finds_no_connection_free_is_unavailable_and_names_the_pool_size(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=2, pool_timeout=0.2)
    try:
        with in_process_server(engine) as address, IpamClient(address, retries=0) as ipam:
            ipam.register_host("h1")  # the server's background workers are up and have let go
            # Every connection of the pool busy:
            with engine.connect(), engine.connect(), pytest.raises(IpamClientError) as failed:
                ipam.register_host("h2")
            assert failed.value.code == grpc.StatusCode.UNAVAILABLE
            assert "none of its 2 database connections came free within 0.2 s" in failed.value.message
            assert "--db-pool-size" in failed.value.message
            ipam.register_host("h2")  # and once one is free again, calls pass
    finally:
        engine.dispose()
