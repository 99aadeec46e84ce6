"""Pool geometry: blocks, offsets, reserved CIDRs and counting (pure maths, no database).

Table-driven in the style of host-local's range tests: each table row is one pool and one
expectation, worked out by hand in the row's comment where it is not obvious.
"""

from __future__ import annotations

import ipaddress
import re

import pytest

from ipam.domain.errors import InvalidArgument
from ipam.domain.layout import (
    GATEWAY_FIRST_USABLE,
    GATEWAY_NONE,
    MAX_INDEX,
    PoolLayout,
    subnet_gateway,
)
from ipam.domain.network import Address

FU = GATEWAY_FIRST_USABLE
NO_GW = GATEWAY_NONE


def make(cidr: str, host: int, reserved: tuple[str, ...] = (), gateway: str = FU) -> PoolLayout:
    return PoolLayout.build(cidr, host, list(reserved), gateway)


def ip(text: str) -> Address:
    return ipaddress.ip_address(text)


# ---- blocks -----------------------------------------------------------------------------------

BLOCKS = [
    # cidr, host prefix, family, block count, block size, {index: block cidr}
    ("10.0.0.0/24", 26, 4, 4, 64, {0: "10.0.0.0/26", 1: "10.0.0.64/26", 3: "10.0.0.192/26"}),
    ("10.0.0.0/24", 24, 4, 1, 256, {0: "10.0.0.0/24"}),
    ("10.0.0.0/24", 30, 4, 64, 4, {1: "10.0.0.4/30", 63: "10.0.0.252/30"}),
    ("10.0.0.0/8", 24, 4, 65536, 256, {1: "10.0.1.0/24", 258: "10.1.2.0/24", 65535: "10.255.255.0/24"}),
    ("0.0.0.0/0", 30, 4, 2**30, 4, {2**30 - 1: "255.255.255.252/30"}),
    ("fd00::/48", 64, 6, 65536, 2**64, {0: "fd00::/64", 3: "fd00:0:0:3::/64", 65535: "fd00:0:0:ffff::/64"}),
    ("fd00::/64", 120, 6, 2**56, 256, {1: "fd00::100/120", 2**56 - 1: "fd00::ffff:ffff:ffff:ff00/120"}),
    ("fd00::/120", 126, 6, 64, 4, {5: "fd00::14/126"}),
    ("::/0", 62, 6, 2**62, 2**66, {2**62 - 1: "ffff:ffff:ffff:fffc::/62"}),
]


@pytest.mark.parametrize(("cidr", "host", "family", "count", "size", "blocks"), BLOCKS)
def test_blocks(cidr: str, host: int, family: int, count: int, size: int, blocks: dict[int, str]) -> None:
    layout = make(cidr, host)
    assert layout.family == family
    assert layout.block_count == count
    assert layout.block_size == size
    assert layout.usable_block_count == count
    for index, block in blocks.items():
        assert str(layout.block(index)) == block
        assert layout.block_index_of(layout.block(index).network_address) == index
        assert layout.block_index_of(layout.block(index).broadcast_address) == index


ROUND_TRIPS = [
    # cidr, host prefix, address, block index, offset
    ("10.0.0.0/24", 26, "10.0.0.0", 0, 0),
    ("10.0.0.0/24", 26, "10.0.0.63", 0, 63),
    ("10.0.0.0/24", 26, "10.0.0.64", 1, 0),
    ("10.0.0.0/24", 26, "10.0.0.200", 3, 8),
    ("10.0.0.0/24", 26, "10.0.0.255", 3, 63),
    ("10.0.0.0/8", 24, "10.1.2.3", 258, 3),
    ("192.168.0.0/16", 30, "192.168.1.6", 65, 2),
    ("fd00::/48", 64, "fd00:0:0:3::5", 3, 5),
    ("fd00::/48", 64, "fd00:0:0:3:ffff:ffff:ffff:ffff", 3, 2**64 - 1),
    ("fd00::/48", 64, "fd00:0:0:ffff::1", 65535, 1),
    ("fd00::/64", 120, "fd00::1:2:3:4", 0x10002000300, 4),
    ("::/0", 62, "::4", 0, 4),
]


@pytest.mark.parametrize(("cidr", "host", "address", "index", "offset"), ROUND_TRIPS)
def test_index_and_offset_round_trip(cidr: str, host: int, address: str, index: int, offset: int) -> None:
    layout = make(cidr, host)
    assert layout.block_index_of(ip(address)) == index
    assert layout.offset_of(ip(address)) == offset
    assert layout.address(index, offset) == ip(address)
    assert ip(address) in layout.block(index)


# ---- offsets inside a block -------------------------------------------------------------------

OFFSETS = [
    # cidr, host prefix, gateway policy, gateway offset, first offset, offset limit, stored limit
    ("10.0.0.0/24", 26, FU, 1, 2, 63, 63),  # .0 network, .1 gateway, .63 broadcast
    ("10.0.0.0/24", 26, NO_GW, None, 1, 63, 63),
    ("10.0.0.0/24", 30, FU, 1, 2, 3, 3),  # a /30 with a gateway has one assignable address
    ("10.0.0.0/24", 30, NO_GW, None, 1, 3, 3),
    ("10.0.0.0/16", 24, FU, 1, 2, 255, 255),
    ("fd00::/48", 64, FU, 1, 2, 2**64, MAX_INDEX),  # no broadcast in IPv6; clamp to int64
    ("fd00::/48", 64, NO_GW, None, 1, 2**64, MAX_INDEX),
    ("fd00::/64", 126, FU, 1, 2, 4, 4),
    ("fd00::/64", 120, NO_GW, None, 1, 256, 256),
]


@pytest.mark.parametrize(("cidr", "host", "gateway", "gw_offset", "first", "limit", "stored"), OFFSETS)
def test_offset_bounds(
    cidr: str, host: int, gateway: str, gw_offset: int | None, first: int, limit: int, stored: int
) -> None:
    layout = make(cidr, host, gateway=gateway)
    assert layout.gateway_offset == gw_offset
    assert layout.first_offset == first
    assert layout.offset_limit == limit
    assert layout.stored_offset_limit == stored
    assert layout.first_free_offset(0, 0) == first
    assert layout.first_free_offset(0, limit - 1) == limit - 1
    assert layout.first_free_offset(0, limit) is None


GATEWAYS = [
    # cidr, host prefix, policy, block index, gateway
    ("10.0.0.0/24", 26, FU, 0, "10.0.0.1"),
    ("10.0.0.0/24", 26, FU, 1, "10.0.0.65"),
    ("10.0.0.0/24", 26, NO_GW, 1, None),
    ("fd00::/48", 64, FU, 3, "fd00:0:0:3::1"),
    ("fd00::/48", 64, NO_GW, 3, None),
]


@pytest.mark.parametrize(("cidr", "host", "gateway", "index", "expected"), GATEWAYS)
def test_gateway(cidr: str, host: int, gateway: str, index: int, expected: str | None) -> None:
    layout = make(cidr, host, gateway=gateway)
    want = None if expected is None else ip(expected)
    assert layout.gateway(index) == want
    assert subnet_gateway(str(layout.block(index)), gateway) == want


SYSTEM_RESERVED = [
    # cidr, host prefix, policy, offset, reason (a substring) or None
    ("10.0.0.0/24", 26, FU, 0, "network address"),
    ("10.0.0.0/24", 26, FU, 1, "gateway"),
    ("10.0.0.0/24", 26, FU, 2, None),
    ("10.0.0.0/24", 26, FU, 62, None),
    ("10.0.0.0/24", 26, FU, 63, "broadcast address"),
    ("10.0.0.0/24", 26, NO_GW, 1, None),
    ("10.0.0.0/24", 26, NO_GW, 63, "broadcast address"),
    ("10.0.0.0/24", 30, FU, 3, "broadcast address"),
    ("fd00::/48", 64, FU, 0, "network address"),
    ("fd00::/48", 64, FU, 1, "gateway"),
    ("fd00::/48", 64, FU, 2**64 - 1, None),  # the last IPv6 address is an ordinary address
    ("fd00::/64", 120, NO_GW, 0, "network address"),
    ("fd00::/64", 120, NO_GW, 255, None),
]


@pytest.mark.parametrize(("cidr", "host", "gateway", "offset", "reason"), SYSTEM_RESERVED)
def test_system_reserved_reason(cidr: str, host: int, gateway: str, offset: int, reason: str | None) -> None:
    layout = make(cidr, host, gateway=gateway)
    got = layout.system_reserved_reason(offset)
    if reason is None:
        assert got is None
        assert layout.first_free_offset(0, offset) == offset
    else:
        assert got is not None
        assert reason in got
        assert layout.first_free_offset(0, offset) != offset


def test_ipv4_broadcast_is_never_taken() -> None:
    layout = make("10.0.0.0/24", 26)
    taken, pointer = layout.take_offsets(3, 60, 10)
    assert taken == [60, 61, 62]
    assert pointer == 63
    assert layout.address(3, taken[-1]) == ip("10.0.0.254")


def test_ipv6_last_address_is_assignable() -> None:
    layout = make("fd00::/64", 120, gateway=NO_GW)
    assert layout.first_free_offset(0, 255) == 255
    assert layout.take_offsets(0, 254, 10) == ([254, 255], 256)
    assert layout.address(0, 255) == ip("fd00::ff")


# ---- reserved CIDRs inside a block ------------------------------------------------------------

# 10.0.0.0/24 cut into /26 blocks, gateway at offset 1.
#   block 0 (10.0.0.0/26):   .2/31 -> offsets 2-3, .16/28 -> offsets 16-31
#   block 1 (10.0.0.64/26):  .96/27 -> offsets 32-63 (the tail, broadcast included)
#   block 2 (10.0.0.128/26): wholly reserved
#   block 3 (10.0.0.192/26): nothing reserved
PARTIAL = ("10.0.0.2/31", "10.0.0.16/28", "10.0.0.96/27", "10.0.0.128/26")

FIRST_FREE = [
    # block index, from offset, first free offset
    (0, 0, 4),  # clamped to the first offset (2), then past .2/31
    (0, 2, 4),
    (0, 4, 4),
    (0, 15, 15),
    (0, 16, 32),
    (0, 31, 32),
    (0, 62, 62),
    (0, 63, None),  # broadcast
    (1, 0, 2),
    (1, 31, 31),
    (1, 32, None),  # reserved to the end of the block
    (2, 0, None),
    (3, 5, 5),
]


@pytest.mark.parametrize(("index", "start", "expected"), FIRST_FREE)
def test_first_free_offset_skips_reserved(index: int, start: int, expected: int | None) -> None:
    assert make("10.0.0.0/24", 26, PARTIAL).first_free_offset(index, start) == expected


TAKE = [
    # block index, start pointer, count, offsets taken, new pointer
    (0, 2, 3, [4, 5, 6], 7),
    (0, 14, 3, [14, 15, 32], 33),  # jumps over .16/28
    (0, 14, 2, [14, 15], 16),  # the pointer is one past the last taken, even into a reservation
    (0, 16, 1, [32], 33),
    (0, 0, 1, [4], 5),
    (0, 60, 5, [60, 61, 62], 63),  # end of the block: fewer than asked, pointer at the limit
    (0, 63, 1, [], 63),
    (1, 29, 5, [29, 30, 31], 63),  # reserved tail: fewer than asked
    (1, 32, 1, [], 63),
    (2, 0, 1, [], 63),  # wholly reserved block
    (3, 2, 0, [], 2),
    (3, 0, 2, [2, 3], 4),
]


@pytest.mark.parametrize(("index", "start", "count", "taken", "pointer"), TAKE)
def test_take_offsets(index: int, start: int, count: int, taken: list[int], pointer: int) -> None:
    assert make("10.0.0.0/24", 26, PARTIAL).take_offsets(index, start, count) == (taken, pointer)


def test_take_offsets_in_sequence_hands_out_every_assignable_offset_once() -> None:
    layout = make("10.0.0.0/24", 26, PARTIAL)
    pointer, seen = 0, []
    while True:
        taken, pointer = layout.take_offsets(0, pointer, 5)
        seen += taken
        if len(taken) < 5:
            break
    assert seen == [*range(4, 16), *range(32, 63)]
    assert len(seen) == layout.block_assignable(0)


V6_TAKE = [
    # block index, start pointer, count, offsets taken, new pointer
    (3, 0, 2, [256, 257], 258),  # fd00:0:0:3::/120 is reserved
    (0, 0, 2, [2, 3], 4),
    (0, MAX_INDEX - 2, 5, [MAX_INDEX - 2, MAX_INDEX - 1], MAX_INDEX),  # the int64 clamp ends the block
]


@pytest.mark.parametrize(("index", "start", "count", "taken", "pointer"), V6_TAKE)
def test_take_offsets_ipv6(index: int, start: int, count: int, taken: list[int], pointer: int) -> None:
    layout = make("fd00::/48", 64, ("fd00:0:0:3::/120",))
    assert layout.take_offsets(index, start, count) == (taken, pointer)


def test_reserved_cidr_holding() -> None:
    layout = make("10.0.0.0/24", 26, PARTIAL)
    assert layout.reserved_cidr_holding(ip("10.0.0.20")) == ipaddress.ip_network("10.0.0.16/28")
    assert layout.reserved_cidr_holding(ip("10.0.0.130")) == ipaddress.ip_network("10.0.0.128/26")
    assert layout.reserved_cidr_holding(ip("10.0.0.4")) is None


# ---- reserved CIDRs covering whole blocks -----------------------------------------------------

# 10.0.0.0/22 cut into 16 /26 blocks; blocks 4-7, 8 and 15 are wholly reserved.
WHOLE = ("10.0.1.0/24", "10.0.2.0/26", "10.0.3.192/26")

NEXT_USABLE = [
    # from index, next usable index
    (0, 0),
    (3, 3),
    (4, 9),  # jumps past 10.0.1.0/24 and then 10.0.2.0/26
    (5, 9),
    (8, 9),
    (9, 9),
    (14, 14),
    (15, None),
    (16, None),
]


@pytest.mark.parametrize(("start", "expected"), NEXT_USABLE)
def test_next_usable_block(start: int, expected: int | None) -> None:
    layout = make("10.0.0.0/22", 26, WHOLE)
    assert layout.next_usable_block(start) == expected
    if expected is not None:
        assert layout.block_is_usable(expected)


def test_usable_block_count_without_whole_reserved_blocks() -> None:
    layout = make("10.0.0.0/22", 26, WHOLE)
    assert layout.block_count == 16
    assert layout.usable_block_count == 10
    assert [i for i in range(16) if layout.block_is_usable(i)] == [0, 1, 2, 3, 9, 10, 11, 12, 13, 14]


def test_whole_pool_reserved() -> None:
    layout = make("10.0.0.0/24", 26, ("10.0.0.0/24",))
    assert layout.usable_block_count == 0
    assert layout.next_usable_block(0) is None
    assert layout.reserved_addresses == 256


def test_next_usable_block_jumps_without_walking() -> None:
    # 2^48 blocks, the first 2^47 reserved: only a jump can answer this.
    layout = make("fd00::/16", 64, ("fd00::/17",))
    assert layout.next_usable_block(0) == 2**47
    assert layout.next_usable_block(12345) == 2**47
    assert layout.usable_block_count == 2**47
    assert str(layout.block(2**47)) == "fd00:8000::/64"


def test_block_unusable_when_small_reservations_cover_every_assignable_offset() -> None:
    # 10.0.0.0/29 in /30 blocks: block 0 = .0 network, .1 gateway, .2 the only assignable, .3 broadcast.
    layout = make("10.0.0.0/29", 30, ("10.0.0.2/32",))
    assert not layout.block_is_usable(0)
    assert layout.next_usable_block(0) == 1
    assert layout.block_assignable(0) == 0
    assert layout.reserved_addresses == 4 + 3


def test_usable_block_count_agrees_with_block_is_usable() -> None:
    # Same pool: only block 1 can ever be handed out, so a pool with 1 subnet taken is full.
    # usable_block_count feeds Usage.total_subnets and the "(used/total used)" exhaustion message.
    layout = make("10.0.0.0/29", 30, ("10.0.0.2/32",))
    assert layout.usable_block_count == sum(layout.block_is_usable(i) for i in range(layout.block_count)) == 1


def test_overlapping_and_adjacent_reservations_collapse() -> None:
    layout = make("10.0.0.0/24", 26, ("10.0.0.0/27", "10.0.0.32/27", "10.0.0.16/28", "10.0.0.0/27"))
    assert layout.reserved == (ipaddress.ip_network("10.0.0.0/26"),)
    assert layout.usable_block_count == 3
    assert layout.next_usable_block(0) == 1
    assert layout.reserved_addresses == 64 + 3 * 3


# ---- counting ---------------------------------------------------------------------------------

COUNTS = [
    # cidr, host prefix, reserved, policy, reserved per block, reserved in total
    ("10.0.0.0/24", 26, (), FU, [3, 3, 3, 3], 12),  # .0, .1 gateway, broadcast
    ("10.0.0.0/24", 26, (), NO_GW, [2, 2, 2, 2], 8),
    # block 0: .0 .1 .16-.31 .63 = 19; block 2 wholly reserved = 64; 3 each for blocks 1, 3.
    ("10.0.0.0/24", 26, ("10.0.0.16/28", "10.0.0.128/26"), FU, [19, 3, 64, 3], 89),
    ("10.0.0.0/24", 26, ("10.0.0.16/28", "10.0.0.128/26"), NO_GW, [18, 2, 64, 2], 86),
    ("10.0.0.0/24", 26, ("10.0.0.0/30",), FU, [5, 3, 3, 3], 14),  # overlaps network and gateway
    # block 0: .0 .1 .48-.63 (broadcast inside) = 18; block 1: .64 .65 .70 .71 .127 = 5.
    ("10.0.0.0/24", 26, ("10.0.0.48/28", "10.0.0.70/31"), FU, [18, 5, 3, 3], 29),
    # two reservations in one block: .0 .1 .4-.7 .32-.47 .63 = 23
    ("10.0.0.0/24", 26, ("10.0.0.4/30", "10.0.0.32/28"), FU, [23, 3, 3, 3], 32),
    ("10.0.0.0/24", 24, (), FU, [3], 3),
    ("10.0.0.0/24", 30, ("10.0.0.0/25",), FU, [4] * 32 + [3] * 32, 32 * 4 + 32 * 3),
    # IPv6, 16 blocks of 16 addresses, no broadcast: plain blocks hold ::0 and ::1 back.
    # block 0: 0, 1, f = 3; block 2 wholly reserved = 16; 14 plain blocks * 2 = 28.
    ("fd00::/120", 124, ("fd00::f/128", "fd00::20/124"), FU, [3, 2, 16] + [2] * 13, 47),
]


@pytest.mark.parametrize(("cidr", "host", "reserved", "gateway", "per_block", "total"), COUNTS)
def test_reserved_addresses(
    cidr: str, host: int, reserved: tuple[str, ...], gateway: str, per_block: list[int], total: int
) -> None:
    layout = make(cidr, host, reserved, gateway)
    assert [layout.reserved_addresses_per_block(i) for i in range(layout.block_count)] == per_block
    assert layout.reserved_addresses == total
    assert layout.total_addresses == layout.network.num_addresses
    for i in range(layout.block_count):
        assert layout.block_assignable(i) == layout.block_size - per_block[i]


BIG_COUNTS = [
    # cidr, host prefix, reserved, policy, reserved in total
    ("fd00::/48", 64, (), FU, 65536 * 2),
    ("fd00::/48", 64, ("fd00:0:0:1::/64",), NO_GW, 65535 * 1 + 2**64),
    ("fd00::/48", 64, ("fd00:0:0:1::/120",), FU, 65535 * 2 + 256),
    # 256 blocks wholly reserved; block 10.2.0.0/24 holds back .0-.15 (network and gateway inside)
    # and .255 = 17; the other 65279 blocks hold back 3 each.
    ("10.0.0.0/8", 24, ("10.1.0.0/16", "10.2.0.0/28"), FU, 65279 * 3 + 65536 + 17),
]


@pytest.mark.parametrize(("cidr", "host", "reserved", "gateway", "total"), BIG_COUNTS)
def test_reserved_addresses_of_large_pools(
    cidr: str, host: int, reserved: tuple[str, ...], gateway: str, total: int
) -> None:
    layout = make(cidr, host, reserved, gateway)
    assert layout.reserved_addresses == total


# ---- an oracle: enumerate every offset of small pools ------------------------------------------

ORACLE = [
    ("10.0.0.0/24", 26, PARTIAL, FU),
    ("10.0.0.0/24", 26, PARTIAL, NO_GW),
    ("10.0.0.0/22", 26, WHOLE, FU),
    ("10.0.0.0/24", 28, ("10.0.0.1/32", "10.0.0.40/29", "10.0.0.64/27", "10.0.0.255/32"), FU),
    ("10.0.0.0/26", 30, ("10.0.0.2/32", "10.0.0.4/31", "10.0.0.16/28"), FU),
    ("fd00::/120", 124, ("fd00::f/128", "fd00::20/124", "fd00::40/126"), FU),
    ("fd00::/120", 124, ("fd00::f/128", "fd00::20/124", "fd00::40/126"), NO_GW),
]


def assignable_by_enumeration(layout: PoolLayout, index: int) -> list[int]:
    block = layout.block(index)
    return [
        offset
        for offset in range(layout.block_size)
        if layout.system_reserved_reason(offset) is None
        and not any(block.network_address + offset in r for r in layout.reserved)
    ]


@pytest.mark.parametrize(("cidr", "host", "reserved", "gateway"), ORACLE)
def test_layout_agrees_with_enumeration(cidr: str, host: int, reserved: tuple[str, ...], gateway: str) -> None:
    layout = make(cidr, host, reserved, gateway)
    total_assignable = 0
    for index in range(layout.block_count):
        expected = assignable_by_enumeration(layout, index)
        total_assignable += len(expected)
        assert layout.take_offsets(index, 0, layout.block_size)[0] == expected
        assert layout.block_assignable(index) == len(expected)
        assert layout.block_is_usable(index) == bool(expected)
        for start in range(layout.block_size + 1):
            assert layout.first_free_offset(index, start) == next((o for o in expected if o >= start), None)
        usable_from_here = [i for i in range(index, layout.block_count) if assignable_by_enumeration(layout, i)]
        assert layout.next_usable_block(index) == (usable_from_here[0] if usable_from_here else None)
    assert layout.reserved_addresses == layout.total_addresses - total_assignable


# ---- invalid geometry -------------------------------------------------------------------------

INVALID = [
    # cidr, host prefix, reserved, message (a substring)
    ("", 24, (), "cidr: must not be empty"),
    ("10.0.0.0", 24, (), "cidr: '10.0.0.0' is not a CIDR"),
    ("10.0.0.1/24", 26, (), "cidr: '10.0.0.1/24' has host bits set; did you mean '10.0.0.0/24'?"),
    ("10.0.0.0/24", 23, (), "host_prefix_length: 23 is out of range for 10.0.0.0/24 (24..30"),
    ("10.0.0.0/24", 31, (), "host_prefix_length: 31 is out of range for 10.0.0.0/24 (24..30"),
    ("10.0.0.0/24", 32, (), "host_prefix_length: 32 is out of range"),
    ("10.0.0.0/24", -1, (), "host_prefix_length: -1 is out of range"),
    ("fd00::/64", 127, (), "host_prefix_length: 127 is out of range for fd00::/64 (64..126"),
    ("fd00::/64", 48, (), "host_prefix_length: 48 is out of range for fd00::/64 (64..126"),
    ("::/0", 63, (), "host_prefix_length: 63 cuts ::/0 into more than 2^62 host subnets; use at most /62"),
    ("::/0", 64, (), "host_prefix_length: 64 cuts ::/0 into more than 2^62 host subnets"),
    ("fd00::/48", 111, (), "host_prefix_length: 111 cuts fd00::/48 into more than 2^62 host subnets; use at most /110"),
    ("10.0.0.0/24", 26, ("",), "reserved_cidrs[0]: must not be empty"),
    ("10.0.0.0/24", 26, ("10.0.0.5",), "reserved_cidrs[0]: '10.0.0.5' is not a CIDR"),
    (
        "10.0.0.0/24",
        26,
        ("10.0.0.0/28", "10.0.0.1/28"),
        "reserved_cidrs[1]: '10.0.0.1/28' has host bits set; did you mean '10.0.0.0/28'?",
    ),
    ("10.0.0.0/24", 26, ("10.0.1.0/28",), "reserved_cidrs[0]: 10.0.1.0/28 is not inside the pool 10.0.0.0/24"),
    ("10.0.0.0/24", 26, ("10.0.0.0/23",), "reserved_cidrs[0]: 10.0.0.0/23 is not inside the pool 10.0.0.0/24"),
    (
        "10.0.0.0/24",
        26,
        ("10.0.0.0/28", "fd00::/64"),
        "reserved_cidrs[1]: fd00::/64 is IPv6 but the pool 10.0.0.0/24 is IPv4",
    ),
    ("fd00::/48", 64, ("10.0.0.0/8",), "reserved_cidrs[0]: 10.0.0.0/8 is IPv4 but the pool fd00::/48 is IPv6"),
    ("fd00::/48", 64, ("fd01::/64",), "reserved_cidrs[0]: fd01::/64 is not inside the pool fd00::/48"),
]


@pytest.mark.parametrize(("cidr", "host", "reserved", "message"), INVALID)
def test_invalid_build(cidr: str, host: int, reserved: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        make(cidr, host, reserved)


VALID_EDGES = [
    # cidr, host prefix, block count
    ("10.0.0.0/24", 24, 1),
    ("10.0.0.0/24", 30, 64),
    ("10.0.0.0/30", 30, 1),
    ("fd00::/64", 126, 2**62),
    ("fd00::/126", 126, 1),
    ("::/0", 62, 2**62),
    ("fd00::/48", 110, 2**62),
]


@pytest.mark.parametrize(("cidr", "host", "count"), VALID_EDGES)
def test_valid_edges(cidr: str, host: int, count: int) -> None:
    assert make(cidr, host).block_count == count
