"""A specific address inside another host's block (borrowed): host delete, forced subnet release
and garbage collection never release it, and its block is never handed out while it is held
(issue 15's reproduction, against a real server and PostgreSQL)."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from typing import Any

import pytest
from cli_checks import Cli, ok
from sqlalchemy import Engine, text
from test_gc import GRACE, age, silence, sql

from ipam_client import AddressSpec, IpamClient, pb


@pytest.fixture
def borrowed(ipam_cli: Cli, client: IpamClient) -> tuple[str, str]:
    """Steps 1-2: other2's block, and a lease on host vm for its .5; (block, address)."""
    client.create_pool("pr-v4", "10.128.0.0/16", 24)
    for host in ("other2", "vm", "other3"):
        client.register_host(host)
    block = json.loads(ok(ipam_cli("subnet", "create", "--host", "other2", "--pool", "pr-v4", "-o", "json")))["cidr"]
    address = str(ipaddress.ip_network(block)[5])
    lease = client.allocate("vm", "cid-vm", "eth0", [AddressSpec(pool="pr-v4", address=address)]).leases[0]
    assert (lease.address, lease.subnet, lease.host) == (address, block, "vm")
    return block, address


def _still_held(client: IpamClient, address: str) -> None:
    """The vm lease is active, and other3's four new addresses never include it."""
    (held,) = [x for x in client.list_leases(state=pb.LEASE_STATE_ACTIVE) if x.address == address]
    assert (held.host, held.owner_id) == ("vm", "cid-vm")
    got = [client.allocate("other3", f"c{i}", "eth0", [AddressSpec(pool="pr-v4")]).leases[0].address for i in range(4)]
    assert address not in got
    active = [x.address for x in client.list_leases(state=pb.LEASE_STATE_ACTIVE)]
    assert len(active) == len(set(active)) == 5


def test_host_delete_keeps_a_borrowed_lease_and_its_block(
    ipam_cli: Cli, client: IpamClient, borrowed: tuple[str, str]
) -> None:
    block, address = borrowed
    # Before: show-ip names the lender, and the address counts once, in the lender's subnet.
    assert json.loads(ok(ipam_cli("show-ip", address, "-o", "json")))["borrowed_from"] == "other2"
    assert f"borrowed: from host other2's subnet {block}" in ok(ipam_cli("show-ip", address))
    (lender,) = client.list_subnets(host="other2")
    assert lender.usage.allocated_addresses == "1"  # a decimal string: IPv6 counts exceed 64 bits
    assert client.get_pool("pr-v4").usage.allocated_addresses == "1"
    ok(ipam_cli("host", "drain", "other2"))
    deleted = ok(ipam_cli("host", "delete", "other2")).splitlines()
    assert deleted[:2] == [
        'deleted host "other2", released 0 leases and 0 host subnets',
        f"kept {block}: 1 lease of other hosts ({address} held by cid-vm/eth0 on vm); "
        "the host stays listed, drained, until they end",
    ]
    _still_held(client, address)
    assert [s.host for s in client.list_subnets(address=address)] == ["other2"]


def test_forced_subnet_release_keeps_a_borrowed_lease_and_its_block(
    ipam_cli: Cli, client: IpamClient, borrowed: tuple[str, str]
) -> None:
    block, address = borrowed
    own = client.allocate("other2", "c-own", "eth0", [AddressSpec(pool="pr-v4")]).leases[0].address
    released = ok(ipam_cli("subnet", "release", block, "--force")).splitlines()
    assert released == [
        f"released 1 lease of host subnet {block} ({own})",
        f"kept {block}: 1 lease of other hosts ({address} held by cid-vm/eth0 on vm); "
        "release the subnet again once they end",
    ]
    client.drain_host("other2")  # other2 may not refill the block meanwhile
    _still_held(client, address)
    assert [s.host for s in client.list_subnets(address=address)] == ["other2"]


def test_gc_frees_the_block_once_the_borrowed_lease_ends(
    ipam_cli: Cli, client: IpamClient, engine: Engine, borrowed: tuple[str, str]
) -> None:
    block, _ = borrowed
    ok(ipam_cli("host", "drain", "other2"))
    ok(ipam_cli("host", "delete", "other2"))
    age(engine, "other2", 2 * GRACE)
    silence(engine, "other2", 2 * GRACE)
    assert [i.target for i in client.run_gc(grace_seconds=GRACE).items] == []  # still held by vm
    client.release_owner("cid-vm", "eth0")
    assert [(i.kind, i.target) for i in client.run_gc(grace_seconds=GRACE).items] == [("subnet", block)]
    assert client.acquire_subnet("other3", "pr-v4").cidr == block  # the block is free again


def test_gc_frees_a_drained_live_hosts_kept_block_once_the_borrowed_lease_ends(
    ipam_cli: Cli, client: IpamClient, engine: Engine, borrowed: tuple[str, str]
) -> None:
    """other2's agent still heartbeats after the delete: the block goes as a drained host's empty subnet."""
    block, _ = borrowed
    ok(ipam_cli("host", "drain", "other2"))
    ok(ipam_cli("host", "delete", "other2"))
    sql(engine, "UPDATE host_subnet SET created_at = now() - make_interval(secs => :s)", s=2 * GRACE)
    assert [i.target for i in client.run_gc(grace_seconds=GRACE).items] == []  # still held by vm
    client.release_owner("cid-vm", "eth0")
    assert [i.target for i in client.run_gc(grace_seconds=GRACE).items] == []  # empty, not for the grace period
    sql(engine, "UPDATE lease SET released_at = now() - make_interval(secs => :s)", s=2 * GRACE)
    reclaimed = client.run_gc(grace_seconds=GRACE).items
    assert [(i.reason, i.kind, i.target) for i in reclaimed] == [(pb.GC_REASON_EMPTY_SUBNET, "subnet", block)]
    assert client.acquire_subnet("other3", "pr-v4").cidr == block


def test_a_specific_address_whose_subnet_goes_meanwhile_claims_the_block_again(
    client: IpamClient, engine: Engine
) -> None:
    """The subnet is read, then deleted (host delete, subnet release) before the lease's insert
    commits: the insert fails its foreign key and the retry claims the block for the requester."""
    client.create_pool("pr-v4", "10.128.0.0/16", 24)
    client.register_host("other2")
    client.register_host("vm")
    block = client.acquire_subnet("other2", "pr-v4").cidr
    address = str(ipaddress.ip_network(block)[5])
    got: list[Any] = []
    with engine.connect() as conn:
        deleting = conn.begin()
        conn.execute(text("DELETE FROM host_subnet WHERE cidr = CAST(:b AS cidr)"), {"b": block})
        worker = threading.Thread(
            target=lambda: got.append(client.allocate("vm", "cid", "eth0", [AddressSpec("pr-v4", address=address)]))
        )
        worker.start()
        _wait_for_a_lock_wait(engine)  # the insert's foreign key check waits for the delete
        deleting.commit()
    worker.join()
    (lease,) = got[0].leases
    assert (lease.address, lease.subnet, lease.host) == (address, block, "vm")
    assert [s.host for s in client.list_subnets(address=address)] == ["vm"]


def _wait_for_a_lock_wait(engine: Engine) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    while True:
        with engine.connect() as conn:
            if conn.execute(waiting).scalar():
                return
        time.sleep(0.05)
