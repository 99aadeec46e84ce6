"""Address spaces and pools over real gRPC against the real database.

Every test starts on an empty database holding only the "default" address space.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from api_checks import allocate, count, fails, pages
from sqlalchemy import Engine

from ipam_client import AddressSpec, AlreadyExists, FailedPrecondition, InvalidArgument, IpamClient, NotFound, pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc

# --- address spaces -----------------------------------------------------------------------------


def test_create_list_and_delete_a_space(client: IpamClient) -> None:
    created = client.create_address_space("blue", "the blue network")
    assert (created.name, created.description) == ("blue", "the blue network")
    assert created.create_time.seconds > 0

    listed = {s.name: s.description for s in client.list_address_spaces()}
    assert listed == {"blue": "the blue network", "default": "The default address space"}

    client.delete_address_space("blue")
    assert [s.name for s in client.list_address_spaces()] == ["default"]


def test_list_spaces_one_per_page(client: IpamClient, channel: grpc.Channel) -> None:
    for name in ("red", "blue", "green"):
        client.create_address_space(name)
    stub = ipam_pb2_grpc.AddressSpaceServiceStub(channel)

    found = pages(
        stub.ListAddressSpaces,
        pb.ListAddressSpacesRequest(page_size=1),
        lambda reply: [s.name for s in reply.address_spaces],
    )

    assert found == [["blue"], ["default"], ["green"], ["red"]]
    assert [s.name for s in client.list_address_spaces(page_size=1)] == ["blue", "default", "green", "red"]


def test_duplicate_space_is_already_exists(client: IpamClient) -> None:
    client.create_address_space("blue")
    with fails(AlreadyExists, '"blue"'):
        client.create_address_space("blue", "again")
    with fails(AlreadyExists, '"default"'):
        client.create_address_space("default")


def test_space_with_pools_cannot_be_deleted(client: IpamClient) -> None:
    client.create_address_space("blue")
    client.create_pool("blue-v4", "10.0.0.0/24", 26, space="blue")

    with fails(FailedPrecondition, '"blue"', "1 pool"):
        client.delete_address_space("blue")

    client.delete_pool("blue-v4")
    client.delete_address_space("blue")
    assert [s.name for s in client.list_address_spaces()] == ["default"]


def test_default_space_cannot_be_deleted(client: IpamClient) -> None:
    with fails(FailedPrecondition, '"default"'):
        client.delete_address_space("default")
    assert [s.name for s in client.list_address_spaces()] == ["default"]


def test_deleting_an_unknown_space_is_not_found(client: IpamClient) -> None:
    with fails(NotFound, '"nowhere"'):
        client.delete_address_space("nowhere")


@pytest.mark.parametrize(
    ("name", "fragments"),
    [
        ("", ("name", "must not be empty")),
        ("bad name", ("name", "'bad name'")),
        ("-blue", ("name", "'-blue'")),
        ("blue-", ("name", "'blue-'")),
        ("a/b", ("name", "'a/b'")),
        ("x" * 64, ("name", "x" * 64)),
    ],
)
def test_bad_space_name_is_invalid_argument(client: IpamClient, name: str, fragments: tuple[str, ...]) -> None:
    with fails(InvalidArgument, *fragments):
        client.create_address_space(name)
    assert [s.name for s in client.list_address_spaces()] == ["default"]


def test_bad_space_page_token_and_size(channel: grpc.Channel) -> None:
    stub = ipam_pb2_grpc.AddressSpaceServiceStub(channel)
    with fails(InvalidArgument, "page_token", "'not-a-token'"):
        stub.ListAddressSpaces(pb.ListAddressSpacesRequest(page_token="not-a-token"), timeout=10)

    with fails(InvalidArgument, "page_size: -1"):
        stub.ListAddressSpaces(pb.ListAddressSpacesRequest(page_size=-1), timeout=10)


# --- creating pools -----------------------------------------------------------------------------


def test_create_ipv4_pool_with_defaults(client: IpamClient) -> None:
    pool = client.create_pool("prod-v4", "10.1.0.0/16", 24)

    assert pool.name == "prod-v4"
    assert pool.space == "default"
    assert pool.cidr == "10.1.0.0/16"
    assert pool.family == pb.FAMILY_IPV4
    assert pool.host_prefix_length == 24
    assert list(pool.reserved_cidrs) == []
    assert pool.host_selector == ""
    assert not pool.disabled
    assert pool.cooldown_seconds == 0
    assert pool.max_subnets_per_host == 0
    # UNSPECIFIED means FIRST_USABLE on create.
    assert pool.gateway_policy == pb.GATEWAY_POLICY_FIRST_USABLE
    assert pool.create_time.seconds > 0
    # 256 host subnets of 256 addresses; each keeps back network, gateway and broadcast.
    usage = pool.usage
    assert (usage.total_addresses, usage.reserved_addresses) == ("65536", str(256 * 3))
    assert (usage.allocated_addresses, usage.free_addresses) == ("0", str(65536 - 768))
    assert (usage.total_subnets, usage.allocated_subnets, usage.free_subnets) == (256, 0, 256)


def test_create_pool_with_every_field(client: IpamClient) -> None:
    pool = client.create_pool(
        "edge",
        "10.2.0.0/24",
        28,
        reserved_cidrs=["10.2.0.240/28", "10.2.0.0/30"],
        host_selector="zone=a,env!=dev",
        disabled=True,
        cooldown_seconds=300,
        max_subnets_per_host=2,
        gateway_policy=pb.GATEWAY_POLICY_NONE,
    )

    assert list(pool.reserved_cidrs) == ["10.2.0.0/30", "10.2.0.240/28"]
    assert pool.host_selector == "zone=a,env!=dev"
    assert pool.disabled
    assert pool.cooldown_seconds == 300
    assert pool.max_subnets_per_host == 2
    assert pool.gateway_policy == pb.GATEWAY_POLICY_NONE
    assert client.get_pool("edge") == pool


def test_ipv6_pool_with_64_bit_host_subnets(client: IpamClient) -> None:
    pool = client.create_pool("prod-v6", "fd00::/48", 64)

    assert pool.family == pb.FAMILY_IPV6
    assert pool.cidr == "fd00::/48"
    # 2^16 host subnets of 2^64 addresses; IPv6 keeps back only the network address and gateway.
    assert pool.usage.total_addresses == str(2**80)
    assert pool.usage.reserved_addresses == str(2 * 2**16)
    assert pool.usage.free_addresses == str(2**80 - 2 * 2**16)
    assert pool.usage.total_subnets == 2**16

    client.register_host("h1")
    client.register_host("h2")
    first = client.allocate("h1", "c1", "eth0", [AddressSpec(pool="prod-v6")]).leases[0]
    second = client.allocate("h1", "c2", "eth0", [AddressSpec(pool="prod-v6")]).leases[0]
    other = client.allocate("h2", "c3", "eth0", [AddressSpec(pool="prod-v6")]).leases[0]

    assert (first.address, first.address_cidr, first.gateway, first.subnet) == (
        "fd00::2",
        "fd00::2/64",
        "fd00::1",
        "fd00::/64",
    )
    assert first.family == pb.FAMILY_IPV6
    assert second.address == "fd00::3"
    assert (other.address, other.subnet, other.gateway) == ("fd00:0:0:1::2", "fd00:0:0:1::/64", "fd00:0:0:1::1")
    usage = client.get_pool("prod-v6").usage
    assert (usage.allocated_addresses, usage.allocated_subnets) == ("3", 2)
    assert usage.free_addresses == str(2**80 - 2 * 2**16 - 3)


BASE_POOL: dict[str, Any] = {"name": "p", "cidr": "10.0.0.0/24", "host_prefix_length": 26}


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"name": ""}, ("name", "must not be empty")),
        ({"name": "bad name"}, ("name", "'bad name'")),
        ({"space": "bad space"}, ("space", "'bad space'")),
        ({"cidr": ""}, ("cidr", "must not be empty")),
        ({"cidr": "10.0.0.1/24"}, ("cidr", "'10.0.0.1/24'", "host bits set", "'10.0.0.0/24'")),
        ({"cidr": "fd00::1/48", "host_prefix_length": 64}, ("cidr", "'fd00::1/48'", "'fd00::/48'")),
        ({"cidr": "10.0.0.0"}, ("cidr", "'10.0.0.0'")),
        ({"cidr": "10.0.0.0/33"}, ("cidr", "'10.0.0.0/33'")),
        ({"cidr": "banana/8"}, ("cidr", "'banana/8'")),
        ({"host_prefix_length": 16}, ("host_prefix_length", "16", "10.0.0.0/24")),
        ({"host_prefix_length": 31}, ("host_prefix_length", "31", "10.0.0.0/24")),
        ({"host_prefix_length": -1}, ("host_prefix_length", "-1")),
        ({"cidr": "fd00::/48", "host_prefix_length": 127}, ("host_prefix_length", "127", "fd00::/48")),
        ({"cidr": "fd00::/48", "host_prefix_length": 40}, ("host_prefix_length", "40", "fd00::/48")),
        ({"reserved_cidrs": ["10.1.0.0/28"]}, ("reserved_cidrs[0]", "10.1.0.0/28", "10.0.0.0/24")),
        ({"reserved_cidrs": ["fd00::/120"]}, ("reserved_cidrs[0]", "fd00::/120", "IPv6")),
        ({"reserved_cidrs": ["10.0.0.0/28", "10.0.0.5/28"]}, ("reserved_cidrs[1]", "'10.0.0.5/28'", "'10.0.0.0/28'")),
        ({"reserved_cidrs": ["nonsense"]}, ("reserved_cidrs[0]", "'nonsense'")),
        ({"cooldown_seconds": -1}, ("cooldown_seconds", "-1")),
        ({"max_subnets_per_host": -1}, ("max_subnets_per_host", "-1")),
        ({"gateway_policy": 7}, ("gateway_policy", "7")),
        ({"host_selector": "zone=a,,env=b"}, ("host_selector", "'zone=a,,env=b'")),
        ({"host_selector": "zone=a b"}, ("host_selector", "'a b'")),
        ({"host_selector": "=a"}, ("host_selector", "'=a'")),
    ],
)
def test_bad_pool_is_invalid_argument(client: IpamClient, changes: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with fails(InvalidArgument, *fragments):
        client.create_pool(**{**BASE_POOL, **changes})
    assert client.list_pools() == []


def test_pool_in_unknown_space_is_not_found(client: IpamClient) -> None:
    with fails(NotFound, '"nowhere"'):
        client.create_pool("p", "10.0.0.0/24", 26, space="nowhere")


@pytest.mark.parametrize("cidr", ["10.0.5.0/24", "10.0.0.0/8", "10.0.255.252/30", "10.0.0.0/16"])
def test_overlapping_pool_in_one_space_names_the_other_pool(client: IpamClient, cidr: str) -> None:
    client.create_pool("first", "10.0.0.0/16", 24)
    with fails(AlreadyExists, "cidr", cidr, 'pool "first"', "10.0.0.0/16"):
        client.create_pool("second", cidr, 30)
    assert [p.name for p in client.list_pools()] == ["first"]


def test_same_cidr_in_another_space_is_fine(client: IpamClient, engine: Engine) -> None:
    client.create_address_space("blue")
    client.create_pool("default-net", "10.0.0.0/16", 24)
    blue = client.create_pool("blue-net", "10.0.0.0/16", 24, space="blue")

    assert (blue.space, blue.cidr) == ("blue", "10.0.0.0/16")
    assert [p.name for p in client.list_pools("blue")] == ["blue-net"]
    assert [p.name for p in client.list_pools("default")] == ["default-net"]
    assert count(engine, "SELECT count(*) FROM pool WHERE cidr = '10.0.0.0/16'") == 2


def test_adjacent_pools_do_not_overlap(client: IpamClient) -> None:
    client.create_pool("low", "10.0.0.0/24", 26)
    high = client.create_pool("high", "10.0.1.0/24", 26)
    assert high.cidr == "10.0.1.0/24"


def test_duplicate_pool_name_is_already_exists(client: IpamClient) -> None:
    client.create_address_space("blue")
    client.create_pool("p", "10.0.0.0/24", 26)
    with fails(AlreadyExists, 'pool "p"'):
        client.create_pool("p", "10.9.0.0/24", 26)
    # Pools are named across spaces (GetPool takes a name only).
    with fails(AlreadyExists, 'pool "p"'):
        client.create_pool("p", "10.9.0.0/24", 26, space="blue")
    assert client.get_pool("p").cidr == "10.0.0.0/24"


# --- reading pools ------------------------------------------------------------------------------


def test_get_and_list_pools(client: IpamClient, channel: grpc.Channel) -> None:
    client.create_address_space("blue")
    client.create_pool("p3", "10.3.0.0/24", 26)
    client.create_pool("p1", "10.1.0.0/24", 26)
    client.create_pool("p2", "10.2.0.0/24", 26)
    client.create_pool("p4", "10.1.0.0/24", 26, space="blue")

    assert client.get_pool("p2").cidr == "10.2.0.0/24"
    assert [(p.name, p.space) for p in client.list_pools()] == [
        ("p1", "default"),
        ("p2", "default"),
        ("p3", "default"),
        ("p4", "blue"),
    ]
    assert [p.name for p in client.list_pools("blue")] == ["p4"]
    assert all(p.usage.total_addresses == "256" for p in client.list_pools())

    stub = ipam_pb2_grpc.PoolServiceStub(channel)
    one_each = pages(stub.ListPools, pb.ListPoolsRequest(page_size=1), lambda r: [p.name for p in r.pools])
    assert one_each == [["p1"], ["p2"], ["p3"], ["p4"]]
    two_each = pages(
        stub.ListPools, pb.ListPoolsRequest(space="default", page_size=2), lambda r: [p.name for p in r.pools]
    )
    assert two_each == [["p1", "p2"], ["p3"]]


def test_unknown_pool_is_not_found(client: IpamClient) -> None:
    with fails(NotFound, 'pool "nope"'):
        client.get_pool("nope")
    with fails(NotFound, '"nowhere"'):
        client.list_pools("nowhere")
    with fails(NotFound, 'pool "nope"'):
        client.update_pool("nope", disabled=True)
    with fails(NotFound, 'pool "nope"'):
        client.delete_pool("nope")


def test_bad_pool_page_token(channel: grpc.Channel) -> None:
    stub = ipam_pb2_grpc.PoolServiceStub(channel)
    with fails(InvalidArgument, "page_token: 'garbage'"):
        stub.ListPools(pb.ListPoolsRequest(page_token="garbage"), timeout=10)


# --- usage --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reserved", "gateway_policy", "reserved_addresses", "total_subnets"),
    [
        # 4 blocks of 64; each keeps back network, gateway and broadcast: 4 * 3.
        ([], pb.GATEWAY_POLICY_FIRST_USABLE, 12, 4),
        # Without gateways only network and broadcast: 4 * 2.
        ([], pb.GATEWAY_POLICY_NONE, 8, 4),
        # .80/28 is inside block .64/26: that block keeps back 16 more (3 blocks * 3 + 3 + 16).
        (["10.0.0.80/28"], pb.GATEWAY_POLICY_FIRST_USABLE, 28, 4),
        # .64/28 starts the block and swallows its network address and gateway: 3 * 3 + 16 + 1.
        (["10.0.0.64/28"], pb.GATEWAY_POLICY_FIRST_USABLE, 26, 4),
        # A reserved /26 is a whole block: 3 blocks * 3 + 64, and one subnet fewer.
        (["10.0.0.192/26"], pb.GATEWAY_POLICY_FIRST_USABLE, 73, 3),
        # A reserved /25 is two whole blocks: 2 * 3 + 128.
        (["10.0.0.128/25"], pb.GATEWAY_POLICY_FIRST_USABLE, 134, 2),
    ],
)
def test_usage_of_an_empty_pool(
    client: IpamClient, reserved: list[str], gateway_policy: int, reserved_addresses: int, total_subnets: int
) -> None:
    pool = client.create_pool("u", "10.0.0.0/24", 26, reserved_cidrs=reserved, gateway_policy=gateway_policy)
    usage = pool.usage
    assert usage.total_addresses == "256"
    assert usage.reserved_addresses == str(reserved_addresses)
    assert usage.allocated_addresses == "0"
    assert usage.free_addresses == str(256 - reserved_addresses)
    assert usage.cooling_addresses == "0"
    assert (usage.total_subnets, usage.allocated_subnets, usage.free_subnets) == (total_subnets, 0, total_subnets)


def test_usage_follows_allocations(client: IpamClient) -> None:
    client.create_pool("u", "10.0.0.0/24", 26, reserved_cidrs=["10.0.0.80/28"], cooldown_seconds=3600)
    client.register_host("h1")
    client.register_host("h2")
    got = [client.allocate("h1", f"c{i}", "eth0", [AddressSpec(pool="u")]).leases[0].address for i in range(3)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    client.release_address("10.0.0.3")
    other = client.allocate("h2", "c9", "eth0", [AddressSpec(pool="u")]).leases[0]
    assert other.address == "10.0.0.66"

    usage = client.get_pool("u").usage
    # Reserved: 3 per block, plus .80/28 inside the second block: 12 + 16.
    assert (usage.total_addresses, usage.reserved_addresses) == ("256", "28")
    # Active: .2, .4 and .66; .3 is released and still cooling down.
    assert (usage.allocated_addresses, usage.cooling_addresses) == ("3", "1")
    assert usage.free_addresses == str(256 - 28 - 3 - 1)  # the released one is cooling down
    assert (usage.total_subnets, usage.allocated_subnets, usage.free_subnets) == (4, 2, 2)
    assert client.list_pools()[0].usage == usage


def test_usage_after_reserving_a_held_block(client: IpamClient) -> None:
    client.create_pool("u", "10.0.0.0/24", 26)
    for host in ("h1", "h2", "h3", "h4"):
        client.register_host(host)
    assert client.acquire_subnet("h1", "u").cidr == "10.0.0.0/26"

    # h1's block holds no active lease, so it may be reserved; the three other blocks stay free.
    usage = client.update_pool("u", reserved_cidrs=["10.0.0.0/26"]).usage
    # h1 still holds the newly reserved block: it counts, as held, until released.
    assert (usage.total_subnets, usage.allocated_subnets, usage.free_subnets) == (4, 1, 3)
    assert [client.acquire_subnet(host, "u").cidr for host in ("h2", "h3", "h4")] == [
        "10.0.0.64/26",
        "10.0.0.128/26",
        "10.0.0.192/26",
    ]
    assert client.get_pool("u").usage.free_subnets == 0


# --- updating pools -----------------------------------------------------------------------------


@pytest.fixture
def pool(client: IpamClient) -> pb.Pool:
    """Pool "p": 10.0.0.0/24 cut into /26 host subnets, with host "h1" registered."""
    client.register_host("h1")
    return client.create_pool("p", "10.0.0.0/24", 26)


def test_disable_and_enable_a_pool(client: IpamClient, pool: pb.Pool) -> None:
    disabled = client.update_pool("p", disabled=True)
    assert disabled.disabled
    assert disabled.update_time.ToDatetime() >= pool.update_time.ToDatetime()
    with fails(FailedPrecondition, 'pool "p"', "disabled"):
        allocate(client, "c1")
    with fails(FailedPrecondition, 'pool "p"', "disabled"):
        client.acquire_subnet("h1", "p")

    assert not client.update_pool("p", disabled=False).disabled
    assert allocate(client, "c1").address == "10.0.0.2"


def test_update_changes_only_the_given_fields(client: IpamClient, pool: pb.Pool) -> None:
    updated = client.update_pool("p", cooldown_seconds=60, max_subnets_per_host=3)
    assert (updated.cooldown_seconds, updated.max_subnets_per_host) == (60, 3)
    assert (updated.cidr, updated.host_prefix_length, updated.disabled) == ("10.0.0.0/24", 26, False)

    updated = client.update_pool("p", host_selector="zone=a")
    assert updated.host_selector == "zone=a"
    assert (updated.cooldown_seconds, updated.max_subnets_per_host) == (60, 3)
    assert client.get_pool("p") == updated


def test_update_selector_decides_which_hosts_are_served(client: IpamClient, pool: pb.Pool) -> None:
    client.register_host("h-a", {"zone": "a"})
    client.update_pool("p", host_selector="zone=a")

    with fails(FailedPrecondition, 'pool "p"', '"h1"', "'zone=a'"):
        allocate(client, "c1", host="h1")
    assert allocate(client, "c2", host="h-a").address == "10.0.0.2"

    client.update_pool("p", host_selector="")
    assert allocate(client, "c1", host="h1").address == "10.0.0.66"


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"cooldown_seconds": -5}, ("cooldown_seconds", "-5")),
        ({"max_subnets_per_host": -1}, ("max_subnets_per_host", "-1")),
        ({"host_selector": "zone in (a)"}, ("host_selector", "'zone in (a)'")),
        ({"reserved_cidrs": ["10.1.0.0/28"]}, ("reserved_cidrs[0]", "10.1.0.0/28", "10.0.0.0/24")),
        ({"reserved_cidrs": ["10.0.0.1/28"]}, ("reserved_cidrs[0]", "'10.0.0.1/28'", "'10.0.0.0/28'")),
        ({"reserved_cidrs": ["fd00::/64"]}, ("reserved_cidrs[0]", "fd00::/64", "IPv6")),
    ],
)
def test_bad_update_is_invalid_argument(
    client: IpamClient, pool: pb.Pool, changes: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    with fails(InvalidArgument, *fragments):
        client.update_pool("p", **changes)
    assert client.get_pool("p").update_time == pool.update_time


def test_update_reserved_cidrs(client: IpamClient, pool: pb.Pool) -> None:
    updated = client.update_pool("p", reserved_cidrs=["10.0.0.128/25", "10.0.0.16/28"])
    assert list(updated.reserved_cidrs) == ["10.0.0.16/28", "10.0.0.128/25"]
    # Blocks .0/26 and .64/26 keep 3 each, .0/26 also .16/28; .128/25 is two whole blocks.
    assert updated.usage.reserved_addresses == str(3 + 3 + 16 + 128)
    assert updated.usage.total_subnets == 2

    cleared = client.update_pool("p", reserved_cidrs=[])
    assert list(cleared.reserved_cidrs) == []
    assert cleared.usage.reserved_addresses == "12"


def test_reserving_an_active_lease_is_failed_precondition(client: IpamClient, pool: pb.Pool) -> None:
    assert allocate(client, "c1").address == "10.0.0.2"

    with fails(FailedPrecondition, "reserved_cidrs", "10.0.0.2"):
        client.update_pool("p", reserved_cidrs=["10.0.0.0/28"])
    assert list(client.get_pool("p").reserved_cidrs) == []

    client.release_owner("c1", "eth0")
    assert list(client.update_pool("p", reserved_cidrs=["10.0.0.0/28"]).reserved_cidrs) == ["10.0.0.0/28"]


def test_newly_reserved_range_is_never_handed_out(client: IpamClient, pool: pb.Pool) -> None:
    # 10.0.0.2 is released (reusable at once, cooldown 0), then reserved: it must not come back.
    assert allocate(client, "c1").address == "10.0.0.2"
    client.release_owner("c1", "eth0")
    client.update_pool("p", reserved_cidrs=["10.0.0.0/30"])

    assert allocate(client, "c2").address == "10.0.0.4"


# --- deleting pools -----------------------------------------------------------------------------


def test_pool_with_active_leases_is_deleted_only_with_force(client: IpamClient, pool: pb.Pool, engine: Engine) -> None:
    allocate(client, "c1")
    allocate(client, "c2")

    with fails(FailedPrecondition, 'pool "p"', "2 active lease"):
        client.delete_pool("p")
    assert client.get_pool("p").usage.allocated_addresses == "2"

    client.delete_pool("p", force=True)
    with fails(NotFound, 'pool "p"'):
        client.get_pool("p")
    assert client.list_leases(state=pb.LEASE_STATE_ACTIVE) == []
    assert count(engine, "SELECT count(*) FROM lease WHERE state = 'active'") == 0
    assert count(engine, "SELECT count(*) FROM host_subnet") == 0


def test_pool_with_only_released_leases_is_deleted_without_force(client: IpamClient, pool: pb.Pool) -> None:
    allocate(client, "c1")
    client.release_owner("c1", "eth0")

    client.delete_pool("p")
    assert client.list_pools() == []
    # The CIDR is free again.
    assert client.create_pool("p2", "10.0.0.0/24", 26).cidr == "10.0.0.0/24"
