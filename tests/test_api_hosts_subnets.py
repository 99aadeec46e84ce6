"""Hosts and host subnets over real gRPC against the real database.

Every test starts on an empty database holding only the "default" address space.
"""

from __future__ import annotations

import grpc
import pytest
from api_checks import allocate, count, fails, pages
from sqlalchemy import Engine, text

from ipam_client import (
    FailedPrecondition,
    InvalidArgument,
    IpamClient,
    IpamClientError,
    NotFound,
    ResourceExhausted,
    pb,
)
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc


def subnets_in_db(engine: Engine) -> list[tuple[str, str]]:
    """(host, cidr) of every host subnet, from the database."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT h.name, CAST(s.cidr AS text) FROM host_subnet s JOIN host h ON h.id = s.host_id ORDER BY 2")
        )
        return [(row[0], row[1]) for row in rows]


# --- hosts --------------------------------------------------------------------------------------


def test_register_and_get_a_host(client: IpamClient) -> None:
    host = client.register_host("node-1", {"zone": "a", "rack": "r12"})
    assert host.name == "node-1"
    assert dict(host.labels) == {"zone": "a", "rack": "r12"}
    assert host.create_time.seconds > 0
    assert host.last_seen_time.ToDatetime() >= host.create_time.ToDatetime()

    assert client.get_host("node-1") == host


def test_register_again_replaces_the_labels(client: IpamClient) -> None:
    first = client.register_host("node-1", {"zone": "a", "env": "prod"})
    second = client.register_host("node-1", {"zone": "b"})

    assert dict(second.labels) == {"zone": "b"}
    assert second.create_time == first.create_time
    assert second.last_seen_time.ToDatetime() >= first.last_seen_time.ToDatetime()
    assert dict(client.get_host("node-1").labels) == {"zone": "b"}

    assert dict(client.register_host("node-1").labels) == {}
    assert [h.name for h in client.list_hosts()] == ["node-1"]


def test_unknown_host_is_not_found(client: IpamClient) -> None:
    with fails(NotFound, 'host "ghost"'):
        client.get_host("ghost")


@pytest.mark.parametrize(
    ("name", "labels", "fragments"),
    [
        ("", {}, ("name", "must not be empty")),
        ("bad host", {}, ("name", "'bad host'")),
        ("node-1", {"": "x"}, ("labels", "key")),
        ("node-1", {"zone": "a\nb"}, ("labels['zone']", "'a\\nb'")),
    ],
)
def test_bad_host_is_invalid_argument(
    client: IpamClient, name: str, labels: dict[str, str], fragments: tuple[str, ...]
) -> None:
    with fails(InvalidArgument, *fragments):
        client.register_host(name, labels)
    assert client.list_hosts() == []


def test_list_hosts_one_per_page(client: IpamClient, channel: grpc.Channel) -> None:
    for name in ("node-c", "node-a", "node-b"):
        client.register_host(name, {"name": name})
    stub = ipam_pb2_grpc.HostServiceStub(channel)

    found = pages(stub.ListHosts, pb.ListHostsRequest(page_size=1), lambda r: [h.name for h in r.hosts])

    assert found == [["node-a"], ["node-b"], ["node-c"]]
    listed = client.list_hosts(page_size=2)
    assert [(h.name, dict(h.labels)) for h in listed] == [
        ("node-a", {"name": "node-a"}),
        ("node-b", {"name": "node-b"}),
        ("node-c", {"name": "node-c"}),
    ]


def test_bad_host_page_token(channel: grpc.Channel) -> None:
    stub = ipam_pb2_grpc.HostServiceStub(channel)
    with fails(InvalidArgument, "page_token: 'xyz'"):
        stub.ListHosts(pb.ListHostsRequest(page_token="xyz"), timeout=10)


# --- acquiring subnets --------------------------------------------------------------------------


@pytest.fixture
def pool(client: IpamClient) -> pb.Pool:
    """Pool "p": 10.0.0.0/24 cut into four /26 host subnets; hosts h1, h2, h3 registered."""
    for host in ("h1", "h2", "h3"):
        client.register_host(host)
    return client.create_pool("p", "10.0.0.0/24", 26)


def test_acquire_is_idempotent(client: IpamClient, pool: pb.Pool, engine: Engine) -> None:
    first = client.acquire_subnet("h1", "p")
    again = client.acquire_subnet("h1", "p")

    assert (first.cidr, first.pool, first.space, first.host, first.gateway) == (
        "10.0.0.0/26",
        "p",
        "default",
        "h1",
        "10.0.0.1",
    )
    assert again == first
    assert subnets_in_db(engine) == [("h1", "10.0.0.0/26")]


def test_hosts_get_different_subnets(client: IpamClient, pool: pb.Pool, engine: Engine) -> None:
    cidrs = [client.acquire_subnet(host, "p").cidr for host in ("h1", "h2", "h3")]

    assert cidrs == ["10.0.0.0/26", "10.0.0.64/26", "10.0.0.128/26"]
    assert subnets_in_db(engine) == [("h1", "10.0.0.0/26"), ("h3", "10.0.0.128/26"), ("h2", "10.0.0.64/26")]
    assert client.get_pool("p").usage.allocated_subnets == 3


def test_allocation_uses_the_acquired_subnet(client: IpamClient, pool: pb.Pool) -> None:
    client.acquire_subnet("h2", "p")
    lease = allocate(client, "c1", host="h2")
    assert (lease.subnet, lease.address) == ("10.0.0.0/26", "10.0.0.2")


def test_full_subnet_is_not_returned_again(client: IpamClient) -> None:
    # /30 blocks with a gateway hold one assignable address each.
    client.register_host("h1")
    client.create_pool("p", "10.0.0.0/24", 30)
    assert allocate(client, "c1").address == "10.0.0.2"

    assert client.acquire_subnet("h1", "p").cidr == "10.0.0.4/30"
    assert client.acquire_subnet("h1", "p").cidr == "10.0.0.4/30"
    assert [s.cidr for s in client.list_subnets(host="h1")] == ["10.0.0.0/30", "10.0.0.4/30"]


def test_acquire_beyond_max_subnets_per_host(client: IpamClient) -> None:
    client.register_host("h1")
    client.create_pool("p", "10.0.0.0/24", 30, max_subnets_per_host=1)
    allocate(client, "c1")

    with fails(ResourceExhausted, 'host "h1"', "1/1", 'pool "p"'):
        client.acquire_subnet("h1", "p")


def test_acquire_by_selector_picks_the_first_matching_enabled_pool(client: IpamClient) -> None:
    client.create_pool("a-zone-a", "10.1.0.0/24", 26, host_selector="zone=a")
    client.create_pool("b-zone-b-off", "10.2.0.0/24", 26, host_selector="zone=b", disabled=True)
    client.create_pool("c-zone-b", "10.3.0.0/24", 26, host_selector="zone=b")
    client.create_pool("d-any", "10.4.0.0/24", 26)
    client.create_pool("e-v6", "fd00::/48", 64)
    client.register_host("in-a", {"zone": "a"})
    client.register_host("in-b", {"zone": "b"})
    client.register_host("in-c", {"zone": "c"})

    assert client.acquire_subnet("in-a").pool == "a-zone-a"
    assert client.acquire_subnet("in-b").pool == "c-zone-b"
    assert client.acquire_subnet("in-c").pool == "d-any"
    v6 = client.acquire_subnet("in-a", family=6)
    assert (v6.pool, v6.cidr, v6.gateway) == ("e-v6", "fd00::/64", "fd00::1")
    assert client.acquire_subnet("in-a", family=4).pool == "a-zone-a"


def test_acquire_by_selector_with_no_matching_pool(client: IpamClient) -> None:
    client.create_address_space("blue")
    client.create_pool("zone-a", "10.1.0.0/24", 26, host_selector="zone=a")
    client.create_pool("blue-any", "10.2.0.0/24", 26, space="blue")
    client.register_host("in-c", {"zone": "c"})

    with fails(FailedPrecondition, '"default"', 'host "in-c"', "zone=c"):
        client.acquire_subnet("in-c")
    with fails(FailedPrecondition, "IPv6", 'host "in-c"'):
        client.acquire_subnet("in-c", space="blue", family=6)
    assert client.acquire_subnet("in-c", space="blue").pool == "blue-any"


def test_acquire_from_a_named_pool_checks_its_selector(client: IpamClient) -> None:
    client.create_pool("zone-a", "10.1.0.0/24", 26, host_selector="zone=a")
    client.register_host("in-b", {"zone": "b"})

    with fails(FailedPrecondition, 'pool "zone-a"', 'host "in-b"', "'zone=a'", "zone=b"):
        client.acquire_subnet("in-b", "zone-a")


@pytest.mark.parametrize(
    ("host", "pool_name", "space", "family", "error", "fragments"),
    [
        ("ghost", "p", "", 0, NotFound, ('host "ghost"',)),
        ("h1", "nope", "", 0, NotFound, ('pool "nope"',)),
        ("h1", "", "nowhere", 0, NotFound, ('"nowhere"',)),
        ("", "p", "", 0, InvalidArgument, ("host", "must not be empty")),
        ("h1", "bad pool", "", 0, InvalidArgument, ("pool", "'bad pool'")),
        ("h1", "", "", 5, InvalidArgument, ("family", "5")),
        ("h1", "p", "", 6, InvalidArgument, ("family", 'pool "p"', "IPv4")),
        ("h1", "p", "blue", 0, InvalidArgument, ("space", 'pool "p"', '"blue"')),
    ],
)
def test_bad_acquire(
    client: IpamClient,
    pool: pb.Pool,
    engine: Engine,
    host: str,
    pool_name: str,
    space: str,
    family: int,
    error: type[IpamClientError],
    fragments: tuple[str, ...],
) -> None:
    client.create_address_space("blue")
    with fails(error, *fragments):
        client.acquire_subnet(host, pool_name, space=space, family=family)
    assert subnets_in_db(engine) == []


def test_pool_out_of_subnets_is_resource_exhausted(client: IpamClient, engine: Engine) -> None:
    client.create_pool("tiny", "10.0.0.0/28", 30)
    for i in range(5):
        client.register_host(f"h{i}")
    cidrs = [client.acquire_subnet(f"h{i}", "tiny").cidr for i in range(4)]
    assert cidrs == ["10.0.0.0/30", "10.0.0.4/30", "10.0.0.8/30", "10.0.0.12/30"]

    with fails(ResourceExhausted, 'pool "tiny"', "(4/4 used)"):
        client.acquire_subnet("h4", "tiny")
    assert len(subnets_in_db(engine)) == 4
    usage = client.get_pool("tiny").usage
    assert (usage.total_subnets, usage.allocated_subnets, usage.free_subnets) == (4, 4, 0)


def test_reserved_blocks_are_skipped_and_not_counted(client: IpamClient) -> None:
    client.create_pool("tiny", "10.0.0.0/28", 30, reserved_cidrs=["10.0.0.4/30"])
    for i in range(4):
        client.register_host(f"h{i}")
    cidrs = [client.acquire_subnet(f"h{i}", "tiny").cidr for i in range(3)]
    assert cidrs == ["10.0.0.0/30", "10.0.0.8/30", "10.0.0.12/30"]

    with fails(ResourceExhausted, 'pool "tiny"', "(3/3 used)"):
        client.acquire_subnet("h3", "tiny")


# --- releasing subnets --------------------------------------------------------------------------


def test_release_an_empty_subnet_and_reuse_its_block(client: IpamClient, pool: pb.Pool, engine: Engine) -> None:
    assert client.acquire_subnet("h1", "p").cidr == "10.0.0.0/26"
    assert client.acquire_subnet("h2", "p").cidr == "10.0.0.64/26"

    client.release_subnet("10.0.0.0/26")
    assert subnets_in_db(engine) == [("h2", "10.0.0.64/26")]
    assert [s.cidr for s in client.list_subnets()] == ["10.0.0.64/26"]

    assert client.acquire_subnet("h3", "p").cidr == "10.0.0.0/26"
    assert client.acquire_subnet("h1", "p").cidr == "10.0.0.128/26"


def test_release_a_subnet_with_active_leases_needs_force(client: IpamClient, pool: pb.Pool, engine: Engine) -> None:
    assert allocate(client, "c1").address == "10.0.0.2"
    allocate(client, "c2")

    with fails(FailedPrecondition, "10.0.0.0/26", "2 active lease"):
        client.release_subnet("10.0.0.0/26")
    assert subnets_in_db(engine) == [("h1", "10.0.0.0/26")]
    assert len(client.list_leases(state=pb.LEASE_STATE_ACTIVE)) == 2

    client.release_subnet("10.0.0.0/26", force=True)
    assert subnets_in_db(engine) == []
    assert client.list_leases(state=pb.LEASE_STATE_ACTIVE) == []
    assert count(engine, "SELECT count(*) FROM lease WHERE state = 'active'") == 0

    # The block goes to the next host that needs one; the old owner can allocate again.
    assert client.acquire_subnet("h2", "p").cidr == "10.0.0.0/26"
    assert allocate(client, "c1").address == "10.0.0.66"


@pytest.mark.parametrize(
    ("cidr", "space", "error", "fragments"),
    [
        ("10.0.0.192/26", "", NotFound, ("10.0.0.192/26", '"default"')),
        ("10.0.0.0/26", "blue", NotFound, ("10.0.0.0/26", '"blue"')),
        ("10.0.0.1/26", "", InvalidArgument, ("cidr", "'10.0.0.1/26'", "'10.0.0.0/26'")),
        ("", "", InvalidArgument, ("cidr", "must not be empty")),
        ("garbage", "", InvalidArgument, ("cidr", "'garbage'")),
    ],
)
def test_bad_release(
    client: IpamClient,
    pool: pb.Pool,
    cidr: str,
    space: str,
    error: type[IpamClientError],
    fragments: tuple[str, ...],
) -> None:
    client.create_address_space("blue")
    client.acquire_subnet("h1", "p")
    with fails(error, *fragments):
        client.release_subnet(cidr, space=space)
    assert [s.cidr for s in client.list_subnets()] == ["10.0.0.0/26"]


# --- listing subnets ----------------------------------------------------------------------------


def test_list_subnets_with_usage(client: IpamClient) -> None:
    client.create_pool("u", "10.0.0.0/24", 26, reserved_cidrs=["10.0.0.80/28"], cooldown_seconds=3600)
    client.create_pool("other", "10.9.0.0/24", 26)
    client.register_host("h1")
    client.register_host("h2")
    for owner in ("c1", "c2", "c3"):
        allocate(client, owner, spec="u")
    client.release_owner("c2", "eth0")
    allocate(client, "c4", host="h2", spec="u")
    allocate(client, "c5", host="h2", spec="other")

    subnets = client.list_subnets(pool="u")
    assert [(s.cidr, s.host, s.gateway) for s in subnets] == [
        ("10.0.0.0/26", "h1", "10.0.0.1"),
        ("10.0.0.64/26", "h2", "10.0.0.65"),
    ]
    first, second = (s.usage for s in subnets)
    # First block: network, gateway, broadcast kept back; .2 and .4 active, .3 cooling down.
    assert (first.total_addresses, first.reserved_addresses) == ("64", "3")
    assert (first.allocated_addresses, first.cooling_addresses, first.free_addresses) == ("2", "1", "58")
    # Second block: also .80/28 kept back; .66 active.
    assert (second.total_addresses, second.reserved_addresses) == ("64", "19")
    assert (second.allocated_addresses, second.cooling_addresses, second.free_addresses) == ("1", "0", "44")

    assert [s.cidr for s in client.list_subnets(host="h2")] == ["10.0.0.64/26", "10.9.0.0/26"]
    assert [s.cidr for s in client.list_subnets(pool="u", host="h2")] == ["10.0.0.64/26"]
    assert [s.cidr for s in client.list_subnets(pool="other", host="h1")] == []
    assert len(client.list_subnets()) == 3


def test_list_subnets_page_by_page(client: IpamClient, pool: pb.Pool, channel: grpc.Channel) -> None:
    for host in ("h3", "h1", "h2"):
        client.acquire_subnet(host, "p")
    stub = ipam_pb2_grpc.SubnetServiceStub(channel)

    found = pages(stub.ListSubnets, pb.ListSubnetsRequest(page_size=1), lambda r: [s.cidr for s in r.subnets])
    assert found == [["10.0.0.0/26"], ["10.0.0.64/26"], ["10.0.0.128/26"]]
    assert [s.host for s in client.list_subnets(page_size=2)] == ["h3", "h1", "h2"]

    with fails(InvalidArgument, "page_token: '!!'"):
        stub.ListSubnets(pb.ListSubnetsRequest(page_token="!!"), timeout=10)


def test_list_subnets_finds_the_subnet_holding_an_address(client: IpamClient) -> None:
    client.create_pool("p", "10.0.0.0/24", 26)
    client.register_host("h1")
    client.register_host("h2")
    client.acquire_subnet("h1", "p")
    client.acquire_subnet("h2", "p")
    [found] = client.list_subnets(address="10.0.0.77")
    assert (found.cidr, found.host) == ("10.0.0.64/26", "h2")
    assert client.list_subnets(address="10.0.0.200") == []
    client.create_address_space("other")
    assert client.list_subnets(address="10.0.0.77", space="other") == []
    with fails(InvalidArgument, "address", "10.0.0.300"):
        client.list_subnets(address="10.0.0.300")


def test_list_subnets_filters_must_name_existing_things(client: IpamClient) -> None:
    with fails(NotFound, 'pool "nope"'):
        client.list_subnets(pool="nope")
    with fails(NotFound, 'host "ghost"'):
        client.list_subnets(host="ghost")
    with fails(NotFound, 'address space "mars"'):
        client.list_subnets(address="10.0.0.1", space="mars")
