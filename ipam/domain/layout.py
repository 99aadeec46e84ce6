"""How a pool is cut into aligned host subnets and which offsets of a subnet are handed out.

A pool `P` with host prefix length `h` holds `2**(h - P.prefixlen)` blocks, indexed from 0.
Inside a block, an address is named by its offset from the block's network address. Offset 0
(the network address) is never handed out, nor the IPv4 broadcast address, nor the gateway
(offset 1 under the first-usable policy), nor any address inside a reserved CIDR.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ipam.domain.errors import InvalidArgument
from ipam.domain.network import Address, Network, parse_cidr

GATEWAY_FIRST_USABLE = "first_usable"
GATEWAY_NONE = "none"

# Offsets and block indexes are stored as signed 64-bit integers.
MAX_INDEX = 2**63 - 1
MAX_BLOCK_BITS = 62
MIN_BLOCK_SIZE = 4


def subnet_gateway(subnet_cidr: str, gateway_policy: str) -> Address | None:
    """The gateway of a host subnet under a pool's gateway policy."""
    if gateway_policy != GATEWAY_FIRST_USABLE:
        return None
    return ipaddress.ip_network(subnet_cidr).network_address + 1


@dataclass(frozen=True)
class PoolLayout:
    network: Network
    host_prefix_length: int
    reserved: tuple[Network, ...] = ()
    gateway_policy: str = GATEWAY_FIRST_USABLE

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def build(cls, cidr: str, host_prefix_length: int, reserved: list[str], gateway_policy: str) -> PoolLayout:
        """Validate pool geometry; every error names the field and the value."""
        network = parse_cidr("cidr", cidr)
        bits = network.max_prefixlen
        if not network.prefixlen <= host_prefix_length <= bits - 2:
            raise InvalidArgument(
                f"host_prefix_length: {host_prefix_length} is out of range for {network} "
                f"({network.prefixlen}..{bits - 2}: a host subnet needs at least {MIN_BLOCK_SIZE} addresses)"
            )
        if host_prefix_length - network.prefixlen > MAX_BLOCK_BITS:
            raise InvalidArgument(
                f"host_prefix_length: {host_prefix_length} cuts {network} into more than "
                f"2^{MAX_BLOCK_BITS} host subnets; use at most /{network.prefixlen + MAX_BLOCK_BITS}"
            )
        parsed = [parse_cidr(f"reserved_cidrs[{i}]", r) for i, r in enumerate(reserved)]
        for i, r in enumerate(parsed):
            if r.version != network.version:
                raise InvalidArgument(
                    f"reserved_cidrs[{i}]: {r} is IPv{r.version} but the pool {network} is IPv{network.version}"
                )
            if not r.subnet_of(network):  # type: ignore[arg-type]
                raise InvalidArgument(f"reserved_cidrs[{i}]: {r} is not inside the pool {network}")
        collapsed = tuple(ipaddress.collapse_addresses(parsed))  # type: ignore[type-var]
        return cls(network, host_prefix_length, collapsed, gateway_policy)

    # ---- blocks -------------------------------------------------------------------------
    @property
    def family(self) -> int:
        return self.network.version

    @property
    def block_bits(self) -> int:
        return self.network.max_prefixlen - self.host_prefix_length

    @property
    def block_size(self) -> int:
        return 1 << self.block_bits

    @property
    def block_count(self) -> int:
        return 1 << (self.host_prefix_length - self.network.prefixlen)

    @property
    def usable_block_count(self) -> int:
        """Blocks with at least one assignable address (reserved CIDRs may cover all of one)."""
        covered = sum(r.num_addresses // self.block_size for r in self.reserved if r.num_addresses >= self.block_size)
        touched = {self.block_index_of(r.network_address) for r in self.reserved if r.num_addresses < self.block_size}
        return self.block_count - covered - sum(1 for i in touched if not self.block_is_usable(i))

    def block(self, index: int) -> Network:
        base = int(self.network.network_address) + (index << self.block_bits)
        return ipaddress.ip_network((base, self.host_prefix_length))

    def block_index_of(self, address: Address) -> int:
        return (int(address) - int(self.network.network_address)) >> self.block_bits

    def block_is_usable(self, index: int) -> bool:
        """False when reserved CIDRs cover every assignable address of the block."""
        return self.first_free_offset(index, self.first_offset) is not None

    def next_usable_block(self, index: int) -> int | None:
        """The first block at or after `index` that has an assignable address."""
        while index < self.block_count:
            block = self.block(index)
            covering = next((r for r in self.reserved if block.subnet_of(r)), None)  # type: ignore[arg-type]
            if covering is not None:  # jump past the whole reserved CIDR
                index = self.block_index_of(covering.broadcast_address) + 1
                continue
            if self.block_is_usable(index):
                return index
            index += 1
        return None

    # ---- offsets inside a block --------------------------------------------------------
    @property
    def gateway_offset(self) -> int | None:
        return 1 if self.gateway_policy == GATEWAY_FIRST_USABLE else None

    @property
    def first_offset(self) -> int:
        """The lowest offset that may be handed out (before reserved CIDRs)."""
        return 2 if self.gateway_offset == 1 else 1

    @property
    def offset_limit(self) -> int:
        """One past the highest offset that may be handed out."""
        return self.block_size - 1 if self.family == 4 else self.block_size

    @property
    def stored_offset_limit(self) -> int:
        """`offset_limit` clamped to what a 64-bit column holds (an IPv6 /64 never gets there)."""
        return min(self.offset_limit, MAX_INDEX)

    def gateway(self, index: int) -> Address | None:
        return subnet_gateway(str(self.block(index)), self.gateway_policy)

    def address(self, index: int, offset: int) -> Address:
        return self.block(index).network_address + offset

    def offset_of(self, address: Address) -> int:
        return int(address) - int(self.block(self.block_index_of(address)).network_address)

    def system_reserved_reason(self, offset: int) -> str | None:
        """Why an offset is never handed out regardless of reserved CIDRs, or None."""
        if offset == 0:
            return "the subnet's network address"
        if self.family == 4 and offset == self.block_size - 1:
            return "the subnet's broadcast address"
        if offset == self.gateway_offset:
            return "the subnet's gateway"
        return None

    def reserved_cidr_holding(self, address: Address) -> Network | None:
        return next((r for r in self.reserved if address in r), None)

    def first_free_offset(self, index: int, offset: int) -> int | None:
        """The first assignable offset >= `offset` of a block, skipping reserved CIDRs."""
        offset = max(offset, self.first_offset)
        block_base = int(self.block(index).network_address)
        while offset < self.offset_limit:
            holder = self.reserved_cidr_holding(ipaddress.ip_address(block_base + offset))
            if holder is None:
                return offset
            offset = int(holder.broadcast_address) - block_base + 1
        return None

    def take_offsets(self, index: int, start: int, count: int) -> tuple[list[int], int]:
        """Up to `count` assignable offsets of a block from `start` on, and the new bump pointer."""
        limit = self.stored_offset_limit
        taken: list[int] = []
        offset = start
        while len(taken) < count:
            free = self.first_free_offset(index, offset)
            if free is None or free >= limit:
                return taken, limit
            taken.append(free)
            offset = free + 1
        return taken, offset

    # ---- counting -----------------------------------------------------------------------
    @property
    def total_addresses(self) -> int:
        return self.network.num_addresses

    def reserved_addresses_per_block(self, index: int) -> int:
        """Addresses of one block that are never handed out."""
        assignable = 0
        offset = self.first_free_offset(index, self.first_offset)
        block_base = int(self.block(index).network_address)
        while offset is not None:
            nxt = next(
                (
                    int(r.network_address) - block_base
                    for r in self.reserved
                    if int(r.network_address) - block_base > offset
                    and int(r.network_address) - block_base < self.offset_limit
                ),
                self.offset_limit,
            )
            assignable += nxt - offset
            offset = self.first_free_offset(index, nxt)
        return self.block_size - assignable

    @property
    def reserved_addresses(self) -> int:
        """Never-handed-out addresses of the whole pool, without enumerating its blocks.

        Reserved CIDRs are aligned, so each one either covers whole blocks or lies inside one;
        only blocks touched by a reserved CIDR smaller than a block are counted one by one.
        """
        plain = self.block_size - self._assignable_in_plain_block()
        covered_blocks = 0
        partial: set[int] = set()
        for r in self.reserved:
            if r.num_addresses >= self.block_size:
                covered_blocks += r.num_addresses // self.block_size
            else:
                partial.add(self.block_index_of(r.network_address))
        untouched = self.block_count - covered_blocks - len(partial)
        return (
            covered_blocks * self.block_size
            + untouched * plain
            + sum(self.reserved_addresses_per_block(i) for i in partial)
        )

    def _assignable_in_plain_block(self) -> int:
        return self.offset_limit - self.first_offset

    def block_assignable(self, index: int) -> int:
        return self.block_size - self.reserved_addresses_per_block(index)
