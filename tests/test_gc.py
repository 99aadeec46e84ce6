"""Host liveness, drain/delete and garbage collection through the gRPC API, on real PostgreSQL.

Time passing is simulated by moving timestamps back in the database (a host's last heartbeat, a
lease's allocation time), so that grace periods of minutes are tested without waiting for them;
the periodic collector is tested with real seconds in a real `ipam serve` process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from processes import ServerProcess, ServerProcessFactory
from registry_checks import Watch, assert_consecutive, caught_up, head_revision, kinds
from sqlalchemy import Engine, text

from ipam_client import (
    AddressSpec,
    FailedPrecondition,
    InvalidArgument,
    IpamClient,
    IpamClientError,
    NotFound,
    pb,
    registry_pb,
)
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc

GRACE = 600  # seconds: what the tests pass to RunGc


def sql(engine: Engine, statement: str, **params: object) -> list[tuple[object, ...]]:
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return [tuple(row) for row in result] if result.returns_rows else []


def silence(engine: Engine, host: str, seconds: int) -> None:
    """The host's last heartbeat `seconds` ago."""
    sql(engine, "UPDATE host SET last_seen_at = now() - make_interval(secs => :s) WHERE name = :h", s=seconds, h=host)


def age(engine: Engine, host: str, seconds: int) -> None:
    """Everything the host holds allocated (and its subnets created) `seconds` earlier."""
    sql(
        engine,
        "UPDATE lease SET allocated_at = allocated_at - make_interval(secs => :s) "
        "WHERE host_id = (SELECT id FROM host WHERE name = :h)",
        s=seconds,
        h=host,
    )
    sql(
        engine,
        "UPDATE host_subnet SET created_at = created_at - make_interval(secs => :s) "
        "WHERE host_id = (SELECT id FROM host WHERE name = :h)",
        s=seconds,
        h=host,
    )


def active(client: IpamClient, host: str) -> list[str]:
    return sorted(lease.address for lease in client.list_leases(host=host, state=pb.LEASE_STATE_ACTIVE))


def gc_rows(engine: Engine) -> list[tuple[object, ...]]:
    return sql(engine, "SELECT reason, kind, host, target FROM gc_record ORDER BY id")


@pytest.fixture
def pool(client: IpamClient) -> str:
    client.create_pool("gc4", "10.50.0.0/16", 28)
    return "gc4"


def allocate(client: IpamClient, host: str, owner: str, pool: str = "gc4") -> str:
    reply = client.allocate(host, owner, "eth0", [AddressSpec(pool=pool)])
    return reply.leases[0].address


def counts(reply: pb.RunGcResponse) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (pb.GcReason.Name(c.reason).removeprefix("GC_REASON_").lower(), c.kind): (c.candidates, c.reclaimed)
        for c in reply.counts
    }


# --- liveness ------------------------------------------------------------------------------------


def test_host_states_follow_the_heartbeat(client: IpamClient, engine: Engine) -> None:
    host = client.register_host("node-1", heartbeat_ttl_seconds=20)
    assert (host.state, host.heartbeat_ttl_seconds) == (pb.HOST_STATE_ALIVE, 20)
    silence(engine, "node-1", 30)
    assert client.get_host("node-1").state == pb.HOST_STATE_STALE
    silence(engine, "node-1", 16 * 60)  # past the server's default grace of 15 minutes
    assert [h.state for h in client.list_hosts()] == [pb.HOST_STATE_DEAD]
    assert client.register_host("node-1").state == pb.HOST_STATE_ALIVE  # a heartbeat brings it back


def test_registering_without_a_ttl_keeps_the_agents(client: IpamClient) -> None:
    client.register_host("node-1", heartbeat_ttl_seconds=90)
    assert client.register_host("node-1", {"zone": "a"}).heartbeat_ttl_seconds == 90
    assert client.register_host("node-2").heartbeat_ttl_seconds == 30


@pytest.mark.parametrize(("ttl", "message"), [(-1, "out of range"), (86401, "out of range")])
def test_bad_ttl_is_invalid(client: IpamClient, ttl: int, message: str) -> None:
    with pytest.raises(InvalidArgument, match=f"heartbeat_ttl_seconds: {ttl} s is {message}"):
        client.register_host("node-1", heartbeat_ttl_seconds=ttl)


# --- drain and delete ------------------------------------------------------------------------


def test_a_drained_host_gets_no_new_allocations(client: IpamClient, pool: str) -> None:
    client.register_host("node-1")
    kept = allocate(client, "node-1", "c1")
    drained = client.drain_host("node-1")
    assert drained.HasField("drain_time")
    with pytest.raises(FailedPrecondition, match=r'host "node-1" is drained .*no new allocations'):
        allocate(client, "node-1", "c2")
    with pytest.raises(FailedPrecondition, match="is drained"):
        client.acquire_subnet("node-1", pool)
    assert active(client, "node-1") == [kept]  # what it holds stays
    assert client.drain_host("node-1").drain_time == drained.drain_time  # idempotent
    assert not client.undrain_host("node-1").HasField("drain_time")
    allocate(client, "node-1", "c2")


def test_deleting_a_live_undrained_host_is_refused_and_changes_nothing(
    client: IpamClient, engine: Engine, pool: str
) -> None:
    client.register_host("node-1")
    held = allocate(client, "node-1", "c1")
    with pytest.raises(FailedPrecondition, match=r'host "node-1" is alive and not drained: run `ipam host drain'):
        client.delete_host("node-1")
    assert active(client, "node-1") == [held]
    assert gc_rows(engine) == []


def test_deleting_a_drained_host_releases_everything_and_frees_its_blocks(
    client: IpamClient, engine: Engine, pool: str
) -> None:
    client.register_host("node-1")
    addresses = [allocate(client, "node-1", f"c{i}") for i in range(3)]
    subnet = client.list_subnets(host="node-1")[0].cidr
    client.drain_host("node-1")
    reply = client.delete_host("node-1")
    assert sorted(i.target for i in reply.released if i.kind == "lease") == sorted(addresses)
    assert [i.target for i in reply.released if i.kind == "subnet"] == [subnet]
    assert {i.reason for i in reply.released} == {pb.GC_REASON_HOST_DELETED}
    # The endpoint history names node-1: it stays, drained and holding nothing.
    assert reply.kept_for_history
    assert client.get_host("node-1").HasField("drain_time")
    assert client.list_leases(state=pb.LEASE_STATE_ACTIVE) == []
    assert client.list_subnets(host="node-1") == []
    with pytest.raises(NotFound, match=f'no endpoint held {addresses[0]} now .* on host "node-1" until'):
        client.lookup_address(addresses[0])  # ... and whois still names the host
    client.register_host("node-2")
    assert client.acquire_subnet("node-2", pool).cidr == subnet  # the block went back to the pool
    assert len(gc_rows(engine)) == 4
    assert list(client.delete_host("node-1").released) == []  # again: nothing left to release


def test_a_host_without_history_is_forgotten(client: IpamClient, pool: str) -> None:
    client.register_host("node-1")
    client.acquire_subnet("node-1", pool)
    client.drain_host("node-1")
    reply = client.delete_host("node-1")
    assert [i.kind for i in reply.released] == ["subnet"] and not reply.kept_for_history
    with pytest.raises(NotFound, match='host "node-1" is not registered'):
        client.delete_host("node-1")


def test_a_dead_host_can_be_deleted_without_draining(client: IpamClient, engine: Engine, pool: str) -> None:
    client.register_host("node-1")
    allocate(client, "node-1", "c1")
    silence(engine, "node-1", 16 * 60)
    assert len(client.delete_host("node-1").released) == 2


# --- garbage collection ----------------------------------------------------------------------


def test_a_dead_hosts_leases_and_subnets_are_reclaimed_after_the_grace_period(
    client: IpamClient, engine: Engine, pool: str
) -> None:
    client.register_host("node-1")
    client.register_host("node-2")
    lost = [allocate(client, "node-1", f"c{i}") for i in range(3)]
    kept = allocate(client, "node-2", "other")
    age(engine, "node-1", 2 * GRACE)
    silence(engine, "node-1", GRACE - 60)  # stale, not dead yet: nothing goes
    assert client.run_gc(grace_seconds=GRACE).counts == []
    assert active(client, "node-1") == sorted(lost)

    silence(engine, "node-1", GRACE + 60)
    reply = client.run_gc(grace_seconds=GRACE)
    assert counts(reply) == {("dead_host", "lease"): (3, 3), ("dead_host", "subnet"): (1, 1)}
    assert active(client, "node-1") == [] and active(client, "node-2") == [kept]
    assert client.list_subnets(host="node-1") == []
    rows = gc_rows(engine)
    assert sorted(str(r[3]) for r in rows if r[1] == "lease") == sorted(lost)
    assert {(r[0], r[2]) for r in rows} == {("dead_host", "node-1")}
    history = client.iter_gc_records(host="node-1")
    assert [r.item.kind for r in history] == ["subnet", "lease", "lease", "lease"]  # newest first
    # ... and in the endpoint registry: the endpoints were removed, with events.
    caught_up(engine)
    removed = {e.owner_id for e in client.iter_endpoints(state=registry_pb.ENDPOINT_STATE_DELETED)}
    assert removed == {"c0", "c1", "c2"}
    assert client.run_gc(grace_seconds=GRACE).counts == []  # nothing left


def test_a_bulk_reclaim_reaches_watchers_as_one_event_per_endpoint(client: IpamClient, engine: Engine) -> None:
    """2,500 leases written and reclaimed by single statements: the event log stores them in rows
    of up to 1,000, and a watcher still gets one event per endpoint, numbered without a gap, each
    with the whole endpoint (a removed one's read back from the registry)."""
    client.create_pool("bulk4", "10.60.0.0/16", 16)
    client.register_host("node-b")
    since = head_revision(client)
    watch = Watch(client, since)
    first = allocate(client, "node-b", "first", pool="bulk4")
    assert kinds(watch.take(1)) == [("first", "added")]
    sql(  # one statement: the way a bulk change reaches the triggers
        engine,
        'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, state) '
        "SELECT l.subnet_id, l.pool_id, l.space_id, l.host_id, l.offset + n, l.address + n, 'bulk-' || n, 'eth0', "
        "'active' "
        "FROM lease l CROSS JOIN generate_series(1, 2499) n WHERE l.owner_id = 'first'",
    )
    added = watch.take(2499)
    assert_consecutive(added, since + 1)
    assert sorted(kinds(added)) == sorted((f"bulk-{n}", "added") for n in range(1, 2500))
    assert sql(engine, "SELECT size FROM event WHERE revision > :r ORDER BY revision", r=since + 1) == [
        (1000,),
        (1000,),
        (499,),
    ]

    age(engine, "node-b", 2 * GRACE)
    silence(engine, "node-b", GRACE + 60)
    assert counts(client.run_gc(grace_seconds=GRACE))[("dead_host", "lease")] == (2500, 2500)
    removed = watch.take(2500)
    assert_consecutive(removed, since + 2500)
    assert sorted(kinds(removed)) == sorted([("first", "removed")] + [(f"bulk-{n}", "removed") for n in range(1, 2500)])
    by_owner = {e.endpoint.owner_id: e.endpoint for e in removed}
    assert by_owner["first"].host == "node-b" and [a.address for a in by_owner["first"].addresses] == [first]
    assert all(
        e.endpoint.state == registry_pb.ENDPOINT_STATE_DELETED and len(e.endpoint.addresses) == 1 for e in removed
    )
    assert watch.pending() == 0


def test_leases_younger_than_the_grace_period_are_never_touched(client: IpamClient, engine: Engine, pool: str) -> None:
    client.register_host("node-1")
    allocate(client, "node-1", "old")
    age(engine, "node-1", 2 * GRACE)
    young = allocate(client, "node-1", "young")
    silence(engine, "node-1", GRACE + 60)
    reply = client.run_gc(grace_seconds=GRACE)
    assert counts(reply) == {("dead_host", "lease"): (1, 1)}  # its subnet holds the young lease: no candidate
    assert active(client, "node-1") == [young]
    assert len(client.list_subnets(host="node-1")) == 1  # still holds the young lease


def test_dry_run_changes_nothing(client: IpamClient, engine: Engine, pool: str) -> None:
    client.register_host("node-1")
    held = [allocate(client, "node-1", f"c{i}") for i in range(2)]
    age(engine, "node-1", 2 * GRACE)
    silence(engine, "node-1", GRACE + 60)
    reply = client.run_gc(dry_run=True, grace_seconds=GRACE)
    assert reply.dry_run
    assert counts(reply)[("dead_host", "lease")] == (2, 0)
    assert sorted(i.target for i in reply.items if i.kind == "lease") == sorted(held)
    assert active(client, "node-1") == sorted(held)
    assert gc_rows(engine) == []


def test_empty_subnets_beyond_the_newest_go_the_last_never(client: IpamClient, engine: Engine) -> None:
    client.create_pool("tiny", "10.60.0.0/24", 30)  # one usable address per host subnet (one is the gateway)
    client.register_host("node-1")
    allocate(client, "node-1", "c0", "tiny")
    allocate(client, "node-1", "c1", "tiny")  # a second subnet
    subnets = [s.cidr for s in client.list_subnets(host="node-1")]
    assert len(subnets) == 2
    client.release_owner("c0", "eth0")
    sql(engine, "UPDATE lease SET released_at = now() - interval '1 hour' WHERE state = 'released'")
    age(engine, "node-1", 2 * GRACE)
    reply = client.run_gc(grace_seconds=GRACE)
    assert counts(reply) == {("empty_subnet", "subnet"): (1, 1)}
    assert [s.cidr for s in client.list_subnets(host="node-1")] == [subnets[1]]
    client.release_owner("c1", "eth0")
    sql(engine, "UPDATE lease SET released_at = now() - interval '1 hour' WHERE state = 'released'")
    assert client.run_gc(grace_seconds=GRACE).counts == []  # the host's last subnet stays


def test_a_recently_emptied_subnet_stays(client: IpamClient, engine: Engine) -> None:
    client.create_pool("tiny", "10.60.0.0/24", 30)
    client.register_host("node-1")
    for i in range(2):
        allocate(client, "node-1", f"c{i}", "tiny")
    age(engine, "node-1", 2 * GRACE)
    client.release_owner("c0", "eth0")  # emptied just now
    assert client.run_gc(grace_seconds=GRACE).counts == []


def test_allocations_during_a_collection_are_never_lost(client: IpamClient, engine: Engine, server: str) -> None:
    """A dead host with 5,000 leases (3 batches) is collected while new leases are allocated to
    it and to a live host: every lease allocated during the run is still active afterwards."""
    client.create_pool("big", "10.0.0.0/12", 16)
    client.register_host("dead")
    client.register_host("live")
    sql(
        engine,
        "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit) "
        "SELECT p.id, p.space_id, h.id, 0, '10.0.0.0/16', 5002, 65535 FROM pool p, host h "
        "WHERE p.name = 'big' AND h.name = 'dead'",
    )
    sql(
        engine,
        'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, state, '
        "allocated_at) SELECT hs.id, hs.pool_id, hs.space_id, hs.host_id, n, '10.0.0.0'::inet + n, 'old-' || n, "
        "'eth0', 'active', "
        "now() - interval '1 day' FROM host_subnet hs, generate_series(2, 5001) n",
    )
    sql(engine, "UPDATE pool SET next_block = 1 WHERE name = 'big'")
    silence(engine, "dead", GRACE + 60)
    fresh: list[tuple[str, str]] = []
    stop = threading.Event()

    def allocate_meanwhile() -> None:
        with IpamClient(server) as own:
            n = 0
            while not stop.is_set():
                for host in ("dead", "live"):
                    address = own.allocate(host, f"new-{n}", "eth0", [AddressSpec(pool="big")]).leases[0].address
                    fresh.append((host, address))
                    n += 1

    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(allocate_meanwhile)
        time.sleep(0.2)
        reply = client.run_gc(grace_seconds=GRACE)
        stop.set()
        running.result()
    assert counts(reply)[("dead_host", "lease")] == (5000, 5000)
    assert len(fresh) > 2
    still = {(lease.host, lease.address) for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)}
    assert set(fresh) <= still
    assert {lease.owner_id for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)} == {
        f"new-{n}" for n in range(len(fresh))
    }


def test_reconcile_releases_what_the_runtime_no_longer_lists(client: IpamClient, engine: Engine, pool: str) -> None:
    client.register_host("node-1")
    for owner, network in (("keep", "pods"), ("gone", "pods"), ("elsewhere", "other")):
        client.allocate("node-1", owner, "eth0", [AddressSpec(pool=pool)], attributes={"cni.network": network})
    reply = client.reconcile_host(
        "node-1", [("keep", "eth0")], match_attributes={"cni.network": "pods"}, detail="CNI GC of network pods"
    )
    assert [(i.owner_id, i.reason) for i in reply.released] == [("gone", pb.GC_REASON_RUNTIME_GONE)]
    owners = {lease.owner_id for lease in client.list_leases(host="node-1", state=pb.LEASE_STATE_ACTIVE)}
    assert owners == {"keep", "elsewhere"}
    (record,) = client.iter_gc_records(reason=pb.GC_REASON_RUNTIME_GONE)
    assert (record.item.owner_id, record.detail) == ("gone", "CNI GC of network pods")
    with pytest.raises(NotFound):
        client.reconcile_host("nobody", [])


def test_reconcile_with_a_minimum_age_keeps_younger_leases(client: IpamClient, engine: Engine, pool: str) -> None:
    """The agent's own reconciliation may run while the runtime adds: what is younger stays."""
    client.register_host("node-1")
    for owner in ("old", "young"):
        client.allocate("node-1", owner, "eth0", [AddressSpec(pool=pool)])
    with engine.begin() as conn:
        conn.execute(text("UPDATE lease SET allocated_at = now() - interval '10 minutes' WHERE owner_id = 'old'"))
    reply = client.reconcile_host("node-1", [], detail="agent", min_age_seconds=300)
    assert [i.owner_id for i in reply.released] == ["old"]
    assert [lease.owner_id for lease in client.list_leases(host="node-1", state=pb.LEASE_STATE_ACTIVE)] == ["young"]
    with pytest.raises(InvalidArgument, match=r"min_age_seconds: 86401 is out of range \(0\.\.86400\)"):
        client.reconcile_host("node-1", [], min_age_seconds=86401)


# --- one replica at a time -------------------------------------------------------------------------


def test_gc_is_refused_while_another_holds_the_lock(client: IpamClient, engine: Engine) -> None:
    from ipam.store.gc import GC_LOCK_KEY

    with engine.connect() as conn:
        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": GC_LOCK_KEY}).scalar()
        with pytest.raises(IpamClientError) as raised:
            client.run_gc(grace_seconds=GRACE)
        assert raised.value.code == grpc.StatusCode.ABORTED
        assert "running on another replica" in raised.value.message
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": GC_LOCK_KEY})
        conn.commit()
    client.run_gc(grace_seconds=GRACE)


@pytest.fixture
def two_replicas(server_process_factory: ServerProcessFactory) -> Iterator[list[ServerProcess]]:
    start = server_process_factory
    yield [start("--gc-interval", "0"), start("--gc-interval", "0")]


def test_two_replicas_never_collect_at_the_same_moment(two_replicas: list[ServerProcess], engine: Engine) -> None:
    with IpamClient(two_replicas[0].address) as setup:
        setup.create_pool("big", "10.0.0.0/12", 16)
        setup.register_host("dead")
    sql(
        engine,
        "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit) "
        "SELECT p.id, p.space_id, h.id, 0, '10.0.0.0/16', 20002, 65535 FROM pool p, host h",
    )
    sql(
        engine,
        'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, state, '
        "allocated_at) SELECT hs.id, hs.pool_id, hs.space_id, hs.host_id, n, '10.0.0.0'::inet + n, 'old-' || n, "
        "'eth0', 'active', "
        "now() - interval '1 day' FROM host_subnet hs, generate_series(2, 20001) n",
    )
    silence(engine, "dead", GRACE + 60)
    runs: list[tuple[float, float]] = []
    refused = 0
    lock = threading.Lock()

    def collect(address: str) -> None:
        nonlocal refused
        with IpamClient(address, retries=0, timeout=60) as ipam:
            for _ in range(4):
                try:
                    reply = ipam.run_gc(grace_seconds=GRACE, dry_run=True)
                except IpamClientError as err:
                    assert err.code == grpc.StatusCode.ABORTED, err
                    with lock:
                        refused += 1
                    continue
                start = reply.start_time.ToDatetime().timestamp()
                with lock:
                    runs.append((start, start + reply.duration.ToTimedelta().total_seconds()))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(collect, [r.address for r in two_replicas] * 2))
    runs.sort()
    assert runs and refused, (runs, refused)
    for (_, end), (next_start, _) in itertools.pairwise(runs):
        assert next_start >= end - 0.001, runs  # no overlap (to the rounding of the clocks)


def test_the_periodic_collector_reclaims_a_dead_hosts_leases(server_process_factory: ServerProcessFactory) -> None:
    # Paced (--gc-duty): it rests between transactions, and still gets everything.
    replica = server_process_factory("--gc-interval", "1s", "--gc-grace", "2s", "--gc-duty", "0.5")
    with IpamClient(replica.address) as ipam:
        ipam.create_pool("gc4", "10.50.0.0/16", 28)
        ipam.register_host("node-1", heartbeat_ttl_seconds=1)
        allocate(ipam, "node-1", "c1")
        deadline = time.monotonic() + 30
        while active(ipam, "node-1") and time.monotonic() < deadline:
            time.sleep(0.5)
        assert active(ipam, "node-1") == [], replica.output()
        assert [r.item.reason for r in ipam.iter_gc_records()][-1] == pb.GC_REASON_DEAD_HOST


# --- bad input -----------------------------------------------------------------------------------


def test_bad_gc_requests(client: IpamClient, channel: grpc.Channel) -> None:
    stub = ipam_pb2_grpc.GcServiceStub(channel)
    for grace, message in ((-5, "must not be negative"), (31 * 86400, "longer than 30 days")):
        request = pb.RunGcRequest()
        request.grace.FromSeconds(grace)
        with pytest.raises(grpc.RpcError) as raised:
            stub.RunGc(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in str(raised.value.details())
    for duty in (-0.5, 1.5, 0.01):
        with pytest.raises(InvalidArgument, match=r"duty: .* is out of range \(0.05 .. 1"):
            client.run_gc(duty=duty)
    with pytest.raises(NotFound, match='host "ghost" is not registered'):
        client.run_gc(host="ghost")
    with pytest.raises(InvalidArgument, match="host"):
        client.run_gc(host="not a name")
    with pytest.raises(NotFound):
        client.drain_host("ghost")


# --- Docker networks: their gateway and aux addresses belong to the network ------------------------


def test_docker_network_addresses_outlive_a_dead_or_deleted_member(client: IpamClient, engine: Engine) -> None:
    client.create_pool("dock", "10.70.0.0/16", 24)
    for host in ("node-a", "node-b", "node-c"):
        client.register_host(host)
    shared = client.request_network_pool("node-a", subnet="10.70.5.0/24")
    client.request_network_pool("node-b", subnet="10.70.5.0/24")
    gateway = client.request_network_address("node-a", shared.pool_id, role=pb.NETWORK_ADDRESS_ROLE_GATEWAY)
    container = client.request_network_address(
        "node-a", shared.pool_id, role=pb.NETWORK_ADDRESS_ROLE_CONTAINER, mac_address="02:42:0a:46:05:07"
    )
    alone = client.request_network_pool("node-c", subnet="10.70.9.0/24")
    client.request_network_address("node-c", alone.pool_id, role=pb.NETWORK_ADDRESS_ROLE_GATEWAY)

    # node-a dies: its container's address goes, the network's gateway stays.
    age(engine, "node-a", 2 * GRACE)
    silence(engine, "node-a", GRACE + 60)
    reply = client.run_gc(grace_seconds=GRACE)
    assert [i.target for i in reply.items if i.kind == "lease"] == [container.address_cidr.split("/")[0]]
    still = {lease.address for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)}
    assert gateway.address_cidr.split("/")[0] in still

    # Deleting node-a passes the gateway to node-b; deleting node-c, the only member of its
    # network, removes that network.
    client.drain_host("node-a")
    released = client.delete_host("node-a").released
    assert [i.kind for i in released] == []
    (gateway_lease,) = [x for x in client.list_leases(state=pb.LEASE_STATE_ACTIVE) if x.subnet == "10.70.5.0/24"]
    assert gateway_lease.host == "node-b"
    client.drain_host("node-c")
    gone = client.delete_host("node-c").released
    assert [(i.kind, i.target) for i in gone] == [("subnet", "10.70.9.0/24")]
    assert [lease.subnet for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)] == ["10.70.5.0/24"]
