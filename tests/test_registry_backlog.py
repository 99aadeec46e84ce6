"""The registry catching up on a dead host's subnet reclaimed by garbage collection (migration
0008): the addresses are free at the reclaim's commit, and the registry closes their holdings and
ends their endpoints afterwards, at the time of the reclaim.

Service functions on real PostgreSQL with no server running, so that nothing catches up before
the test says so; tests/test_gc.py covers the same through a server, whose worker catches up.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from alembic import command
from prometheus_client import generate_latest
from sqlalchemy import Engine, text

from ipam.domain.errors import NotFound
from ipam.domain.liveness import DEFAULT_GRACE_SECONDS
from ipam.server.metrics import Metrics
from ipam.service import gc, hosts, pools, registry
from ipam.service.leases import AddressSpec, AllocateCommand, Allocator, release_owner
from ipam.service.registry_backlog import catch_up, pending
from ipam.store.migrate import alembic_config, upgrade

GRACE = 600
RETENTION = timedelta(days=1)


def sql(engine: Engine, statement: str, **params: object) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def allocate(engine: Engine, host: str, owner: str, pool: str = "p4") -> str:
    command = AllocateCommand(host=host, owner_id=owner, interface="eth0", addresses=[AddressSpec(pool=pool)])
    return Allocator(engine).allocate(command).leases[0].address


def kill(engine: Engine, host: str) -> None:
    """The host silent and everything it holds allocated long enough ago to be collected."""
    sql(engine, "UPDATE host SET last_seen_at = now() - interval '1 day' WHERE name = :h", h=host)
    for table, column in (("lease", "allocated_at"), ("host_subnet", "created_at")):
        sql(
            engine,
            f"UPDATE {table} SET {column} = {column} - interval '1 day' "
            "WHERE host_id = (SELECT id FROM host WHERE name = :h)",
            h=host,
        )


def collect(engine: Engine) -> gc.GcReport:
    return gc.run_gc(engine, dry_run=False, grace_seconds=GRACE)


def endpoint_states(engine: Engine) -> dict[str, tuple[object, ...]]:
    rows = sql(engine, "SELECT owner_id, state, deleted_at FROM endpoint ORDER BY id")
    return {str(row[0]): row[1:] for row in rows}


def logged(engine: Engine) -> list[tuple[str, str]]:
    """(owner, kind) of every event logged, in order."""
    return [
        (str(row[0]), str(row[1]))
        for row in sql(
            engine,
            "SELECT e.owner_id, o.kind FROM event b CROSS JOIN LATERAL unnest(b.endpoint_ids, b.kinds) "
            "WITH ORDINALITY AS o(id, kind, n) JOIN endpoint e ON e.id = o.id ORDER BY b.id, o.n",
        )
    ]


def backlog_metric(engine: Engine) -> str:
    metrics = Metrics.of(engine)
    try:
        lines = generate_latest(metrics.registry).decode().splitlines()
    finally:
        metrics.close()
    return next(line for line in lines if line.startswith("ipam_registry_backlog_leases "))


@pytest.fixture
def hosts_and_pool(engine: Engine) -> None:
    for name in ("dead", "live"):
        hosts.register_host(engine, name, {}, 0, DEFAULT_GRACE_SECONDS)
    # Room for one /28 subnet: a block freed by the collection is the next one given out.
    pools.create_pool(engine, pools.PoolSpec("p4", "10.9.0.0/28", 28, cooldown_seconds=0))


@pytest.mark.usefixtures("hosts_and_pool")
def test_holdings_close_and_endpoints_end_at_the_reclaim_time(engine: Engine) -> None:
    addresses = [allocate(engine, "dead", f"c{i}") for i in range(3)]
    kill(engine, "dead")
    before = logged(engine)

    report = collect(engine)
    assert report.reclaimed == {"lease:dead_host": 3, "subnet:dead_host": 1}
    assert sql(engine, "SELECT count(*) FROM lease") == [(0,)]  # the addresses are free now ...
    assert pending(engine) == (1, 3)  # ... and the registry owes their bookkeeping
    assert backlog_metric(engine) == "ipam_registry_backlog_leases 3.0"
    assert {state for state, _ in endpoint_states(engine).values()} == {"active"}
    assert logged(engine) == before
    (reclaimed_at,) = {row[0] for row in sql(engine, "SELECT at FROM registry_backlog UNION SELECT at FROM gc_record")}

    assert catch_up(engine) == 3
    assert pending(engine) == (0, 0)
    assert endpoint_states(engine) == {f"c{i}": ("deleted", reclaimed_at) for i in range(3)}
    assert sql(engine, "SELECT DISTINCT held_until FROM address_history") == [(reclaimed_at,)]
    assert logged(engine) == before + [(f"c{i}", "removed") for i in range(3)]
    # A deleted endpoint still shows the address it held at the end.
    (endpoint_id,) = sql(engine, "SELECT id FROM endpoint WHERE owner_id = 'c0'")[0]
    record = registry.get_endpoint(engine, "", "", int(str(endpoint_id)))
    assert record.state == "deleted" and [a.address for a in record.addresses] == [addresses[0]]
    with pytest.raises(NotFound, match=f"no endpoint held {addresses[0]} now .* the last before was c0/eth0"):
        registry.lookup_address(engine, addresses[0], "", None, RETENTION)
    assert catch_up(engine) == 0  # nothing left
    assert backlog_metric(engine) == "ipam_registry_backlog_leases 0.0"


@pytest.mark.usefixtures("hosts_and_pool")
def test_an_address_reused_before_the_registry_caught_up_is_the_new_holders(engine: Engine) -> None:
    address = allocate(engine, "dead", "old")
    kill(engine, "dead")
    collect(engine)
    assert allocate(engine, "live", "new") == address  # the freed block, at once
    assert registry.lookup_address(engine, address, "", None, RETENTION).endpoint.owner_id == "new"
    catch_up(engine)
    holder = registry.lookup_address(engine, address, "", None, RETENTION)
    assert holder.endpoint.owner_id == "new" and holder.held_until is None
    assert endpoint_states(engine)["new"] == ("active", None)
    assert endpoint_states(engine)["old"][0] == "deleted"


@pytest.mark.usefixtures("hosts_and_pool")
def test_an_owner_allocating_again_before_the_catch_up_keeps_its_endpoint(engine: Engine) -> None:
    """The endpoint is still live when the owner comes back on another host; catching up closes
    only the reclaimed holding, and the endpoint holds the new address."""
    allocate(engine, "dead", "pod")
    kill(engine, "dead")
    collect(engine)
    again = allocate(engine, "live", "pod")
    catch_up(engine)
    record = registry.get_endpoint(engine, "pod", "eth0", 0)
    assert record.state == "active" and record.host == "live"
    assert [a.address for a in record.addresses] == [again]
    assert logged(engine)[-1] == ("pod", "updated")
    release_owner(engine, "pod", "eth0")
    assert registry.get_endpoint(engine, "", "", record.id).state == "deleted"


def test_workers_skip_a_row_another_holds_and_apply_each_row_once(engine: Engine) -> None:
    """Replicas share the backlog: a worker passes over the row another worker is applying
    (SKIP LOCKED) instead of waiting for it, and no row is applied twice."""
    pools.create_pool(engine, pools.PoolSpec("p4", "10.9.0.0/24", 28, cooldown_seconds=0))
    names = [f"dead-{n}" for n in range(6)]
    for name in names:
        hosts.register_host(engine, name, {}, 0, DEFAULT_GRACE_SECONDS)
        for i in range(4):
            allocate(engine, name, f"{name}-{i}")
        kill(engine, name)
    collect(engine)
    assert pending(engine) == (6, 24)

    caught_up: list[int] = []
    with engine.connect() as holder:  # a worker busy with the oldest row
        holder.execute(text("SELECT id FROM registry_backlog ORDER BY id LIMIT 1 FOR UPDATE"))
        workers = [threading.Thread(target=lambda: caught_up.append(catch_up(engine))) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert not any(worker.is_alive() for worker in workers), "a worker waited for the held row"
        assert sum(caught_up) == 20 and pending(engine) == (1, 4)
        holder.rollback()
    assert catch_up(engine) == 4 and pending(engine) == (0, 0)
    removed = [owner for owner, kind in logged(engine) if kind == "removed"]
    assert sorted(removed) == sorted(f"{name}-{i}" for name in names for i in range(4))


@pytest.mark.usefixtures("hosts_and_pool")
def test_other_releases_are_not_deferred(engine: Engine) -> None:
    """Only the collection of a dead host's whole subnet defers: a release reaches the registry
    in its own transaction."""
    allocate(engine, "live", "released")
    release_owner(engine, "released", "eth0")
    assert endpoint_states(engine)["released"][0] == "deleted"
    assert pending(engine) == (0, 0)


@pytest.mark.usefixtures("hosts_and_pool")
def test_a_downgrade_applies_the_backlog_first(database_url: str, engine: Engine) -> None:
    for i in range(2):
        allocate(engine, "dead", f"c{i}")
    kill(engine, "dead")
    collect(engine)
    (reclaimed_at,) = sql(engine, "SELECT at FROM registry_backlog")[0]
    command.downgrade(alembic_config(database_url), "0007")
    try:
        assert endpoint_states(engine) == {"c0": ("deleted", reclaimed_at), "c1": ("deleted", reclaimed_at)}
        assert logged(engine)[-2:] == [("c0", "removed"), ("c1", "removed")]
    finally:
        upgrade(database_url)
