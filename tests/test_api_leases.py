"""Address leases over real gRPC against the real database.

Every test starts on an empty database holding only the "default" address space. The `pools`
fixture sets up pool "p4" (10.0.0.0/24 in /26 host subnets, 10.0.0.16/28 reserved), pool "p6"
(fd00::/48 in /64 host subnets) and hosts "h1" and "h2".
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
import pytest
from api_checks import allocate as allocate_one
from api_checks import fails, pages
from sqlalchemy import Engine, text

from ipam_client import (
    AddressSpec,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    IpamClient,
    IpamClientError,
    NotFound,
    ResourceExhausted,
    pb,
)
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc

P4 = AddressSpec(pool="p4")
P6 = AddressSpec(pool="p6")
# One lease (see api_checks.allocate), from pool "p4" unless a spec says otherwise.
allocate = partial(allocate_one, spec=P4)


@pytest.fixture
def stub(channel: grpc.Channel) -> Any:
    """The raw LeaseService stub, for looking at single pages and sending what the client would not."""
    return ipam_pb2_grpc.LeaseServiceStub(channel)


@pytest.fixture
def pools(client: IpamClient) -> None:
    client.create_pool("p4", "10.0.0.0/24", 26, reserved_cidrs=["10.0.0.16/28"])
    client.create_pool("p6", "fd00::/48", 64)
    client.register_host("h1", {"zone": "a"})
    client.register_host("h2", {"zone": "b"})


def active_in_db(engine: Engine) -> list[tuple[str, str, str]]:
    """(address, owner_id, interface) of every active lease, from the database."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT host(address), owner_id, interface FROM lease WHERE state = 'active' ORDER BY address, owner_id"
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


def assert_no_address_held_twice(engine: Engine) -> None:
    with engine.connect() as conn:
        twice = conn.execute(
            text(
                "SELECT p.space_id, host(l.address), count(*) FROM lease l JOIN pool p ON p.id = l.pool_id "
                "WHERE l.state = 'active' GROUP BY 1, 2 HAVING count(*) > 1"
            )
        ).all()
    assert twice == []


def addresses(reply: pb.ListLeasesResponse) -> list[str]:
    """The addresses on one page of ListLeases."""
    return [lease.address for lease in reply.leases]


# --- allocating ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_allocate_gives_an_address_of_the_host_subnet(client: IpamClient, engine: Engine) -> None:
    reply = client.allocate("h1", "c1", "eth0", [P4], attributes={"pod": "web-1", "k8s/ns": "prod"})

    assert not reply.already_allocated
    [lease] = reply.leases
    assert lease.address == "10.0.0.2"
    assert lease.address_cidr == "10.0.0.2/26"
    assert lease.gateway == "10.0.0.1"
    assert lease.subnet == "10.0.0.0/26"
    assert (lease.pool, lease.space, lease.host) == ("p4", "default", "h1")
    assert (lease.owner_id, lease.interface) == ("c1", "eth0")
    assert dict(lease.attributes) == {"pod": "web-1", "k8s/ns": "prod"}
    assert lease.state == pb.LEASE_STATE_ACTIVE
    assert lease.family == pb.FAMILY_IPV4
    assert lease.allocate_time.seconds > 0
    assert not lease.HasField("release_time")
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]
    assert [s.cidr for s in client.list_subnets(host="h1")] == ["10.0.0.0/26"]


@pytest.mark.usefixtures("pools")
def test_ipv4_never_gets_network_broadcast_or_gateway(client: IpamClient, engine: Engine) -> None:
    client.create_pool("small", "10.5.0.0/24", 29)
    # Each /29 hands out offsets 2..6: 0 is the network, 1 the gateway, 7 the broadcast address.
    got = [allocate(client, f"c{i}", spec=AddressSpec(pool="small")).address for i in range(11)]

    assert got == [f"10.5.0.{n}" for n in (2, 3, 4, 5, 6, 10, 11, 12, 13, 14, 18)]
    assert [s.cidr for s in client.list_subnets(pool="small")] == ["10.5.0.0/29", "10.5.0.8/29", "10.5.0.16/29"]
    assert_no_address_held_twice(engine)


def test_gateway_policy_none(client: IpamClient) -> None:
    client.register_host("h1")
    client.create_pool("nogw", "10.0.0.0/29", 30, gateway_policy=pb.GATEWAY_POLICY_NONE)
    # A /30 without gateway hands out offsets 1 and 2.
    leases = [allocate(client, f"c{i}", spec=AddressSpec(pool="nogw")) for i in range(3)]

    assert [lease.address for lease in leases] == ["10.0.0.1", "10.0.0.2", "10.0.0.5"]
    assert [lease.gateway for lease in leases] == ["", "", ""]
    assert [s.gateway for s in client.list_subnets()] == ["", ""]


@pytest.mark.usefixtures("pools")
def test_repeated_allocate_returns_the_same_lease(client: IpamClient, engine: Engine) -> None:
    first = client.allocate("h1", "c1", "eth0", [P4])
    again = client.allocate("h1", "c1", "eth0", [P4])

    assert again.already_allocated
    assert again.leases == first.leases
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]
    # Another interface of the same container is another owner key.
    assert allocate(client, "c1", interface="eth1").address == "10.0.0.3"


@pytest.mark.usefixtures("pools")
def test_same_owner_key_from_another_host_is_already_exists(client: IpamClient, engine: Engine) -> None:
    allocate(client, "c1", host="h1")

    with fails(AlreadyExists, "c1/eth0", "10.0.0.2", '"h1"'):
        allocate(client, "c1", host="h2")
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]
    assert client.list_subnets(host="h2") == []


@pytest.mark.usefixtures("pools")
def test_same_owner_key_from_another_host_in_another_pool_is_already_exists(client: IpamClient, engine: Engine) -> None:
    # The owner key names one endpoint (container + interface), which lives on one host.
    allocate(client, "c1", host="h1", spec=P4)

    with fails(AlreadyExists, "c1/eth0", "10.0.0.2", '"h1"'):
        allocate(client, "c1", host="h2", spec=P6)
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]


# --- specific addresses -------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_specific_free_address(client: IpamClient, engine: Engine) -> None:
    lease = allocate(client, "c1", spec=AddressSpec(pool="p4", address="10.0.0.4"))
    assert (lease.address, lease.address_cidr, lease.subnet, lease.gateway) == (
        "10.0.0.4",
        "10.0.0.4/26",
        "10.0.0.0/26",
        "10.0.0.1",
    )
    # Asking again is a retry; the bump pointer then skips the taken address.
    again = client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p4", address="10.0.0.4")])
    assert again.already_allocated
    assert again.leases[0].address == "10.0.0.4"
    assert [allocate(client, f"d{i}").address for i in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.5"]
    assert_no_address_held_twice(engine)


@pytest.mark.usefixtures("pools")
def test_specific_ipv6_address_high_in_a_64(client: IpamClient) -> None:
    wanted = "fd00::ffff:ffff:ffff:fffe"
    lease = allocate(client, "c1", spec=AddressSpec(pool="p6", address=wanted))
    assert (lease.address, lease.address_cidr, lease.subnet) == (wanted, f"{wanted}/64", "fd00::/64")
    assert client.get_lease(wanted).owner_id == "c1"


@pytest.mark.usefixtures("pools")
def test_specific_held_address_names_the_holder(client: IpamClient, engine: Engine) -> None:
    allocate(client, "c1", spec=AddressSpec(pool="p4", address="10.0.0.4"))

    with fails(AlreadyExists, "address", "10.0.0.4", "c1/eth0", "h1"):
        allocate(client, "c2", spec=AddressSpec(pool="p4", address="10.0.0.4"))
    with fails(AlreadyExists, "c1/eth0", "10.0.0.4", "10.0.0.5"):
        allocate(client, "c1", spec=AddressSpec(pool="p4", address="10.0.0.5"))
    assert active_in_db(engine) == [("10.0.0.4", "c1", "eth0")]


@pytest.mark.usefixtures("pools")
def test_specific_released_address_is_taken_over(client: IpamClient) -> None:
    client.update_pool("p4", cooldown_seconds=3600)
    allocate(client, "c1", spec=AddressSpec(pool="p4", address="10.0.0.4"))
    client.release_owner("c1", "eth0")

    # Asked for by name, a released address is given even while it cools down.
    lease = allocate(client, "c2", spec=AddressSpec(pool="p4", address="10.0.0.4"))
    assert (lease.address, lease.owner_id) == ("10.0.0.4", "c2")


@pytest.mark.parametrize(
    ("address", "fragments"),
    [
        ("10.9.0.1", ("address", "10.9.0.1", 'pool "p4"', "10.0.0.0/24")),
        ("10.0.0.20", ("address", "10.0.0.20", "10.0.0.16/28")),
        ("10.0.0.64", ("address", "10.0.0.64", "network")),
        ("10.0.0.127", ("address", "10.0.0.127", "broadcast")),
        ("10.0.0.65", ("address", "10.0.0.65", "gateway")),
        ("10.0.0.0", ("address", "10.0.0.0", "network")),
        ("fd00::5", ("address", "fd00::5", "IPv6", 'pool "p4"')),
        ("10.0.0.300", ("addresses[0].address", "'10.0.0.300'")),
    ],
)
@pytest.mark.usefixtures("pools")
def test_specific_address_that_cannot_be_handed_out(
    client: IpamClient, engine: Engine, address: str, fragments: tuple[str, ...]
) -> None:
    with fails(InvalidArgument, *fragments):
        allocate(client, "c1", spec=AddressSpec(pool="p4", address=address))
    assert active_in_db(engine) == []


# --- dual-stack ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_dual_stack_allocate_and_release(client: IpamClient, engine: Engine) -> None:
    reply = client.allocate("h1", "c1", "eth0", [P4, P6])
    assert not reply.already_allocated
    assert [(lease.address, lease.family, lease.pool) for lease in reply.leases] == [
        ("10.0.0.2", pb.FAMILY_IPV4, "p4"),
        ("fd00::2", pb.FAMILY_IPV6, "p6"),
    ]

    again = client.allocate("h1", "c1", "eth0", [P4, P6])
    assert again.already_allocated
    assert again.leases == reply.leases

    released = client.release_owner("c1", "eth0")
    assert not released.already_released
    assert sorted(lease.address for lease in released.leases) == ["10.0.0.2", "fd00::2"]
    assert {lease.state for lease in released.leases} == {pb.LEASE_STATE_RELEASED}
    assert active_in_db(engine) == []


@pytest.mark.usefixtures("pools")
def test_dual_stack_by_family(client: IpamClient) -> None:
    reply = client.allocate("h1", "c1", "eth0", [AddressSpec(family=6), AddressSpec(family=4)])
    assert [lease.address for lease in reply.leases] == ["fd00::2", "10.0.0.2"]


def _disable_p6(client: IpamClient) -> None:
    client.update_pool("p6", disabled=True)


def _exhaust_v6(client: IpamClient) -> None:
    # One /126 holds two assignable IPv6 addresses (::2 and ::3); fill it from h1.
    client.delete_pool("p6")
    client.create_pool("p6", "fd00::/126", 126)
    allocate(client, "x1", spec=P6)
    allocate(client, "x2", spec=P6)


def _hold_fd00_5(client: IpamClient) -> None:
    allocate(client, "x1", spec=AddressSpec(pool="p6", address="fd00::5"))


@pytest.mark.parametrize(
    ("break_v6", "v6_spec", "error", "fragments"),
    [
        (_disable_p6, P6, FailedPrecondition, ('pool "p6"', "disabled")),
        (_exhaust_v6, P6, ResourceExhausted, ('pool "p6"', "(1/1 used)")),
        (_hold_fd00_5, AddressSpec(pool="p6", address="fd00::5"), AlreadyExists, ("fd00::5", "x1/eth0")),
        (lambda client: None, AddressSpec(pool="nope"), NotFound, ('pool "nope"',)),
    ],
)
@pytest.mark.usefixtures("pools")
def test_dual_stack_is_all_or_nothing(
    client: IpamClient,
    engine: Engine,
    break_v6: Callable[[IpamClient], None],
    v6_spec: AddressSpec,
    error: type[IpamClientError],
    fragments: tuple[str, ...],
) -> None:
    break_v6(client)
    before = active_in_db(engine)

    with fails(error, *fragments):
        client.allocate("h1", "c1", "eth0", [P4, v6_spec])

    assert active_in_db(engine) == before
    assert client.list_leases(owner_id="c1") == []
    assert client.list_subnets(pool="p4") == []
    assert client.get_pool("p4").usage.allocated_addresses == "0"


@pytest.mark.usefixtures("pools")
def test_dual_stack_asks_for_each_pool_once(client: IpamClient, engine: Engine) -> None:
    with fails(InvalidArgument, "addresses[1]", 'pool "p4"'):
        client.allocate("h1", "c1", "eth0", [P4, AddressSpec(pool="p4", address="10.0.0.9")])
    assert active_in_db(engine) == []


# --- releasing ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_release_by_address(client: IpamClient, engine: Engine) -> None:
    allocate(client, "c1")
    allocate(client, "c2")

    released = client.release_address("10.0.0.2")
    assert not released.already_released
    [lease] = released.leases
    assert (lease.address, lease.owner_id, lease.state) == ("10.0.0.2", "c1", pb.LEASE_STATE_RELEASED)
    assert lease.HasField("release_time")
    assert active_in_db(engine) == [("10.0.0.3", "c2", "eth0")]

    again = client.release_address("10.0.0.2")
    assert again.already_released
    assert list(again.leases) == []


@pytest.mark.usefixtures("pools")
def test_release_by_owner_again_and_never_allocated(client: IpamClient) -> None:
    allocate(client, "c1")
    assert not client.release_owner("c1", "eth0").already_released

    again = client.release_owner("c1", "eth0")
    assert again.already_released
    assert list(again.leases) == []
    assert client.release_owner("never", "eth0").already_released
    # Inside a pool but never leased: nothing to release, which is fine.
    assert client.release_address("10.0.0.40").already_released


@pytest.mark.usefixtures("pools")
def test_release_in_the_right_space(client: IpamClient, engine: Engine) -> None:
    client.create_address_space("blue")
    client.create_pool("blue4", "10.0.0.0/24", 26, space="blue")
    allocate(client, "c1")
    allocate(client, "c2", spec=AddressSpec(pool="blue4"))
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0"), ("10.0.0.2", "c2", "eth0")]

    released = client.release_address("10.0.0.2", space="blue")
    assert [(lease.owner_id, lease.space) for lease in released.leases] == [("c2", "blue")]
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]
    assert client.get_lease("10.0.0.2").state == pb.LEASE_STATE_ACTIVE
    assert client.get_lease("10.0.0.2", space="blue").state == pb.LEASE_STATE_RELEASED


@pytest.mark.parametrize(
    ("release", "error", "fragments"),
    [
        (lambda c: c.release_address("192.168.1.1"), NotFound, ("192.168.1.1", '"default"')),
        (lambda c: c.release_address("10.0.0.2", space="nowhere"), NotFound, ("10.0.0.2", '"nowhere"')),
        (lambda c: c.release_address("10.0.0.256"), InvalidArgument, ("address", "'10.0.0.256'")),
        (lambda c: c.release_address(""), InvalidArgument, ("address", "must not be empty")),
        (lambda c: c.release_owner("", "eth0"), InvalidArgument, ("owner_id", "must not be empty")),
        (lambda c: c.release_owner("c1", ""), InvalidArgument, ("interface", "must not be empty")),
    ],
)
@pytest.mark.usefixtures("pools")
def test_bad_release(
    client: IpamClient,
    engine: Engine,
    release: Callable[[IpamClient], object],
    error: type[IpamClientError],
    fragments: tuple[str, ...],
) -> None:
    allocate(client, "c1")
    with fails(error, *fragments):
        release(client)
    assert active_in_db(engine) == [("10.0.0.2", "c1", "eth0")]


@pytest.mark.usefixtures("pools")
def test_release_with_no_target_is_invalid_argument(stub: Any) -> None:
    with fails(InvalidArgument, "target"):
        stub.Release(pb.ReleaseRequest(), timeout=10)


# --- reading leases -----------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_get_lease_active_then_released(client: IpamClient) -> None:
    allocate(client, "c1")

    active = client.get_lease("10.0.0.2")
    assert (active.address, active.owner_id, active.interface, active.host) == ("10.0.0.2", "c1", "eth0", "h1")
    assert active.state == pb.LEASE_STATE_ACTIVE
    assert not active.HasField("release_time")

    client.release_owner("c1", "eth0")
    released = client.get_lease("10.0.0.2")
    assert (released.address, released.owner_id) == ("10.0.0.2", "c1")
    assert released.state == pb.LEASE_STATE_RELEASED
    assert released.release_time.ToDatetime() >= released.allocate_time.ToDatetime()

    # Reused (cooldown 0): the new holder is shown.
    allocate(client, "c2")
    assert (client.get_lease("10.0.0.2").owner_id, client.get_lease("10.0.0.2").state) == (
        "c2",
        pb.LEASE_STATE_ACTIVE,
    )


@pytest.mark.usefixtures("pools")
def test_get_lease_of_an_unknown_address(client: IpamClient) -> None:
    with fails(NotFound, "10.0.0.9", '"default"'):
        client.get_lease("10.0.0.9")
    with fails(InvalidArgument, "address", "'nonsense'"):
        client.get_lease("nonsense")


@pytest.fixture
def five_leases(client: IpamClient, pools: None) -> None:
    """Five leases over two pools and two hosts; c2/eth0 is released."""
    client.create_pool("q4", "10.1.0.0/24", 26)
    assert allocate(client, "c1", "h1").address == "10.0.0.2"
    assert allocate(client, "c2", "h1").address == "10.0.0.3"
    assert allocate(client, "c3", "h2").address == "10.0.0.66"
    assert allocate(client, "c1", "h1", spec=AddressSpec(pool="q4"), interface="eth1").address == "10.1.0.2"
    assert allocate(client, "c4", "h2", spec=AddressSpec(pool="q4")).address == "10.1.0.66"
    client.release_owner("c2", "eth0")


@pytest.mark.parametrize(
    ("filters", "addresses"),
    [
        ({}, ["10.0.0.2", "10.0.0.3", "10.0.0.66", "10.1.0.2", "10.1.0.66"]),
        ({"pool": "p4"}, ["10.0.0.2", "10.0.0.3", "10.0.0.66"]),
        ({"pool": "q4"}, ["10.1.0.2", "10.1.0.66"]),
        ({"host": "h1"}, ["10.0.0.2", "10.0.0.3", "10.1.0.2"]),
        ({"owner_id": "c1"}, ["10.0.0.2", "10.1.0.2"]),
        ({"owner_id": "c1", "interface": "eth1"}, ["10.1.0.2"]),
        ({"state": pb.LEASE_STATE_ACTIVE}, ["10.0.0.2", "10.0.0.66", "10.1.0.2", "10.1.0.66"]),
        ({"state": pb.LEASE_STATE_RELEASED}, ["10.0.0.3"]),
        ({"pool": "p4", "host": "h1", "state": pb.LEASE_STATE_ACTIVE}, ["10.0.0.2"]),
        ({"host": "h2", "owner_id": "c1"}, []),
    ],
)
@pytest.mark.usefixtures("five_leases")
def test_list_leases_with_filters(client: IpamClient, filters: dict[str, Any], addresses: list[str]) -> None:
    assert [lease.address for lease in client.list_leases(**filters)] == addresses


@pytest.mark.usefixtures("five_leases")
def test_list_leases_page_by_page(client: IpamClient, stub: Any) -> None:
    everything = [lease.address for lease in client.list_leases()]

    found = pages(stub.ListLeases, pb.ListLeasesRequest(page_size=2), addresses)
    assert [len(page) for page in found] == [2, 2, 1]
    assert [address for page in found for address in page] == everything
    assert [lease.address for lease in client.list_leases(page_size=2)] == everything

    h1_active = pages(
        stub.ListLeases, pb.ListLeasesRequest(host="h1", state=pb.LEASE_STATE_ACTIVE, page_size=1), addresses
    )
    assert h1_active == [["10.0.0.2"], ["10.1.0.2"]]


@pytest.mark.usefixtures("pools")
def test_list_leases_bad_requests(client: IpamClient, stub: Any, channel: grpc.Channel) -> None:
    for i in range(3):
        allocate(client, f"c{i}")
    with fails(InvalidArgument, "page_token: 'bm90IGEgdG9rZW4='"):
        stub.ListLeases(pb.ListLeasesRequest(page_token="bm90IGEgdG9rZW4="), timeout=10)

    # A token of another List call is refused too.
    hosts = ipam_pb2_grpc.HostServiceStub(channel).ListHosts(pb.ListHostsRequest(page_size=1), timeout=10)
    assert hosts.next_page_token
    with fails(InvalidArgument, "page_token"):
        stub.ListLeases(pb.ListLeasesRequest(page_token=hosts.next_page_token), timeout=10)

    with fails(InvalidArgument, "state", "9"):
        client.list_leases(state=9)
    with fails(InvalidArgument, "page_size", "-2"):
        client.list_leases(page_size=-2)


# --- reuse and cooldown -------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_without_cooldown_the_oldest_released_address_is_reused_first(client: IpamClient, engine: Engine) -> None:
    assert [allocate(client, f"c{i}").address for i in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    client.release_address("10.0.0.3")
    client.release_address("10.0.0.2")

    assert allocate(client, "d1").address == "10.0.0.3"
    assert allocate(client, "d2").address == "10.0.0.2"
    assert allocate(client, "d3").address == "10.0.0.5"
    assert active_in_db(engine) == [
        ("10.0.0.2", "d2", "eth0"),
        ("10.0.0.3", "d1", "eth0"),
        ("10.0.0.4", "c2", "eth0"),
        ("10.0.0.5", "d3", "eth0"),
    ]


@pytest.mark.usefixtures("pools")
def test_with_cooldown_a_released_address_waits(client: IpamClient) -> None:
    client.update_pool("p4", cooldown_seconds=3600)
    assert allocate(client, "c1").address == "10.0.0.2"
    client.release_owner("c1", "eth0")

    assert allocate(client, "c2").address == "10.0.0.3"
    usage = client.get_pool("p4").usage
    assert (usage.allocated_addresses, usage.cooling_addresses) == ("1", "1")

    # Once the cooldown is over (here: shortened to nothing) the address comes back.
    client.update_pool("p4", cooldown_seconds=0)
    assert allocate(client, "c3").address == "10.0.0.2"


@pytest.mark.usefixtures("pools")
def test_a_full_host_subnet_brings_a_new_one(client: IpamClient, engine: Engine) -> None:
    client.create_pool("tiny", "10.7.0.0/24", 30)
    got = [allocate(client, f"c{i}", spec=AddressSpec(pool="tiny")).address for i in range(3)]

    assert got == ["10.7.0.2", "10.7.0.6", "10.7.0.10"]
    assert [s.cidr for s in client.list_subnets(pool="tiny", host="h1")] == [
        "10.7.0.0/30",
        "10.7.0.4/30",
        "10.7.0.8/30",
    ]

    # A released slot (cooldown 0) is used before a new subnet is taken.
    client.release_address("10.7.0.6")
    assert allocate(client, "c9", spec=AddressSpec(pool="tiny")).address == "10.7.0.6"
    assert len(client.list_subnets(pool="tiny")) == 3
    assert_no_address_held_twice(engine)


@pytest.mark.usefixtures("pools")
def test_max_subnets_per_host_reached_and_full(client: IpamClient, engine: Engine) -> None:
    client.create_pool("tiny", "10.7.0.0/24", 30, max_subnets_per_host=2)
    allocate(client, "c1", spec=AddressSpec(pool="tiny"))
    allocate(client, "c2", spec=AddressSpec(pool="tiny"))

    with fails(ResourceExhausted, 'host "h1"', "2/2", 'pool "tiny"'):
        allocate(client, "c3", spec=AddressSpec(pool="tiny"))
    assert len(client.list_leases(pool="tiny")) == 2
    # Another host still gets its own subnets.
    assert allocate(client, "c3", host="h2", spec=AddressSpec(pool="tiny")).address == "10.7.0.10"


@pytest.mark.usefixtures("pools")
def test_pool_out_of_subnets_on_allocate(client: IpamClient) -> None:
    client.create_pool("tiny", "10.7.0.0/29", 30)
    allocate(client, "c1", spec=AddressSpec(pool="tiny"))
    allocate(client, "c2", spec=AddressSpec(pool="tiny"))

    with fails(ResourceExhausted, 'pool "tiny"', "(2/2 used)"):
        allocate(client, "c3", spec=AddressSpec(pool="tiny"))


# --- bad requests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "owner", "interface", "specs", "error", "fragments"),
    [
        ("h1", "c1", "eth0", [AddressSpec(pool="nope")], NotFound, ('pool "nope"',)),
        ("ghost", "c1", "eth0", [P4], NotFound, ('host "ghost"',)),
        ("h1", "c1", "eth0", [AddressSpec(space="nowhere")], NotFound, ('"nowhere"',)),
        ("", "c1", "eth0", [P4], InvalidArgument, ("host", "must not be empty")),
        ("h1", "", "eth0", [P4], InvalidArgument, ("owner_id", "must not be empty")),
        ("h1", "c1", "", [P4], InvalidArgument, ("interface", "must not be empty")),
        ("h1", "c1", "eth\x01", [P4], InvalidArgument, ("interface", "control characters")),
        ("h1", "c1", "e" * 65, [P4], InvalidArgument, ("interface", "64")),
        ("h1", "c1", "eth0", [], InvalidArgument, ("addresses",)),
        ("h1", "c1", "eth0", [AddressSpec(family=5)], InvalidArgument, ("addresses[0].family", "5")),
        ("h1", "c1", "eth0", [P4, AddressSpec(pool="p6", family=7)], InvalidArgument, ("addresses[1].family", "7")),
        ("h1", "c1", "eth0", [AddressSpec(pool="p4", family=6)], InvalidArgument, ("family", 'pool "p4"', "IPv4")),
        ("h1", "c1", "eth0", [AddressSpec(pool="bad pool")], InvalidArgument, ("addresses[0].pool", "'bad pool'")),
    ],
)
@pytest.mark.usefixtures("pools")
def test_bad_allocate(
    client: IpamClient,
    engine: Engine,
    host: str,
    owner: str,
    interface: str,
    specs: list[AddressSpec],
    error: type[IpamClientError],
    fragments: tuple[str, ...],
) -> None:
    with fails(error, *fragments):
        client.allocate(host, owner, interface, specs)
    assert active_in_db(engine) == []


@pytest.mark.usefixtures("pools")
def test_disabled_pool_and_unmatched_selector(client: IpamClient, engine: Engine) -> None:
    client.update_pool("p4", disabled=True)
    with fails(FailedPrecondition, 'pool "p4"', "disabled"):
        allocate(client, "c1")

    client.update_pool("p4", disabled=False, host_selector="zone=b")
    with fails(FailedPrecondition, 'pool "p4"', 'host "h1"', "'zone=b'"):
        allocate(client, "c1", host="h1")
    # With pool "" and no enabled IPv4 pool serving h1 either.
    with fails(FailedPrecondition, "IPv4", 'host "h1"'):
        allocate(client, "c1", host="h1", spec=AddressSpec(family=4))
    assert active_in_db(engine) == []
    assert allocate(client, "c1", host="h2").address == "10.0.0.2"


def test_list_leases_filters_must_name_existing_things(client: IpamClient) -> None:
    with fails(NotFound, 'pool "nope"'):
        client.list_leases(pool="nope")
    with fails(NotFound, 'host "ghost"'):
        client.list_leases(host="ghost")
