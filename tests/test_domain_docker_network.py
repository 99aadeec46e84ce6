"""Pure maths of Docker network subnets: pool ids, the any-address range, carving a free subnet."""

from __future__ import annotations

import ipaddress
import re

import pytest

from ipam.domain.docker_network import NetworkLayout, first_free_subnet, parse_pool_id, pool_id
from ipam.domain.errors import InvalidArgument


def nets(*cidrs: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c) for c in cidrs]


@pytest.mark.parametrize(
    ("within", "prefix", "taken", "expected"),
    [
        ("10.0.0.0/16", 24, [], "10.0.0.0/24"),
        ("10.0.0.0/16", 24, ["10.0.0.0/24"], "10.0.1.0/24"),
        ("10.0.0.0/16", 24, ["10.0.0.0/26"], "10.0.1.0/24"),  # a smaller subnet still takes the block
        ("10.0.0.0/16", 24, ["10.0.0.0/24", "10.0.2.0/24"], "10.0.1.0/24"),  # a gap is used
        ("10.0.0.0/16", 22, ["10.0.1.0/24"], "10.0.4.0/22"),  # aligned after what overlaps
        ("10.0.0.0/16", 24, ["9.0.0.0/8"], "10.0.0.0/24"),  # taken outside `within` is ignored
        ("10.0.0.0/23", 24, ["10.0.0.0/24", "10.0.1.0/24"], None),
        ("10.0.0.0/23", 24, ["10.0.0.0/16"], None),  # one wider than `within` covers it all
        ("fd00::/48", 64, ["fd00::/64", "fd00:0:0:1::/64"], "fd00:0:0:2::/64"),
    ],
)
def test_first_free_subnet(within: str, prefix: int, taken: list[str], expected: str | None) -> None:
    found = first_free_subnet(ipaddress.ip_network(within), prefix, nets(*taken))
    assert (None if found is None else str(found)) == expected


@pytest.mark.parametrize(
    ("subnet", "ip_range", "first", "limit"),
    [
        ("10.0.0.0/24", "", 1, 255),  # no network address, no broadcast
        ("10.0.0.0/24", "10.0.0.128/25", 128, 255),
        ("10.0.0.0/24", "10.0.0.0/25", 1, 128),
        ("fd00::/120", "", 1, 256),  # IPv6 has no broadcast address
    ],
)
def test_any_address_range(subnet: str, ip_range: str, first: int, limit: int) -> None:
    layout = NetworkLayout.build(subnet, ip_range)
    assert (layout.first_offset, layout.offset_limit) == (first, limit)


def test_pool_ids_round_trip_and_bad_ones_are_named() -> None:
    assert parse_pool_id(pool_id("default", "fd00::/64")) == ("default", ipaddress.ip_network("fd00::/64"))
    for bad in ("10.0.0.0/24", "10.0.0.0/24@", "nonsense@default", "10.0.0.1/24@default"):
        with pytest.raises(InvalidArgument, match="pool_id"):
            parse_pool_id(bad)


def test_layout_rejects_ranges_outside_the_subnet_and_tiny_subnets() -> None:
    with pytest.raises(InvalidArgument, match=re.escape("ip_range: 10.1.0.0/25 is not inside the subnet 10.0.0.0/24")):
        NetworkLayout.build("10.0.0.0/24", "10.1.0.0/25")
    with pytest.raises(InvalidArgument, match="too small"):
        NetworkLayout.build("10.0.0.0/31")
