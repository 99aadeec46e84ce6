"""Docker network subnets: the pool id handed to dockerd, the range any-address requests draw from,
and carving a free aligned subnet out of a pool.

A network subnet's addresses are named, like a host subnet's, by their offset from its network
address. Any-address requests take offsets inside `--ip-range` (the whole subnet without one),
never the network address nor the IPv4 broadcast address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from ipam.domain.errors import InvalidArgument
from ipam.domain.network import Address, Network, parse_cidr

# The roles of a Docker lease; network-wide ones (gateway, aux) are shared by every host.
ROLE_CONTAINER = "container"
ROLE_GATEWAY = "gateway"
ROLE_AUX = "aux"
ROLES = (ROLE_CONTAINER, ROLE_GATEWAY, ROLE_AUX)
NETWORK_WIDE = (ROLE_GATEWAY, ROLE_AUX)

_POOL_ID_SEPARATOR = "@"


def pool_id(space: str, cidr: str) -> str:
    """The PoolID dockerd keeps for a network subnet: "10.5.0.0/24@default"."""
    return f"{cidr}{_POOL_ID_SEPARATOR}{space}"


def parse_pool_id(value: str) -> tuple[str, Network]:
    """(space, subnet) of a PoolID made by `pool_id`."""
    cidr, sep, space = value.rpartition(_POOL_ID_SEPARATOR)
    if not sep or not space:
        raise InvalidArgument(f"pool_id: {value!r} is not a pool id of this driver (expected CIDR@SPACE)")
    return space, parse_cidr("pool_id", cidr)


@dataclass(frozen=True)
class NetworkLayout:
    subnet: Network
    ip_range: Network | None = None

    @classmethod
    def build(cls, subnet: str, ip_range: str = "") -> NetworkLayout:
        network = parse_cidr("subnet", subnet)
        if network.num_addresses < 4:
            raise InvalidArgument(f"subnet: {network} is too small (a network needs at least 4 addresses)")
        if not ip_range:
            return cls(network)
        sub = parse_cidr("ip_range", ip_range)
        if sub.version != network.version or not sub.subnet_of(network):  # type: ignore[arg-type]
            raise InvalidArgument(f"ip_range: {sub} is not inside the subnet {network}")
        return cls(network, sub)

    @property
    def family(self) -> int:
        return self.subnet.version

    def offset_of(self, address: Address) -> int:
        return int(address) - int(self.subnet.network_address)

    def address(self, offset: int) -> Address:
        return self.subnet.network_address + offset

    @property
    def first_offset(self) -> int:
        """The first offset any-address requests may take."""
        start = self.ip_range.network_address if self.ip_range else self.subnet.network_address
        return max(1, self.offset_of(start))

    @property
    def offset_limit(self) -> int:
        """One past the last offset any-address requests may take (clamped to a 64-bit column)."""
        last = self.ip_range.broadcast_address if self.ip_range else self.subnet.broadcast_address
        limit = self.offset_of(last) + 1
        if self.family == 4 and last == self.subnet.broadcast_address:
            limit -= 1
        return min(limit, 2**63 - 1)

    def check_assignable(self, address: Address) -> None:
        if address.version != self.family or address not in self.subnet:
            raise InvalidArgument(f"address: {address} is outside the network subnet {self.subnet}")
        if address == self.subnet.network_address:
            raise InvalidArgument(f"address: {address} is the network address of {self.subnet}")
        if self.family == 4 and address == self.subnet.broadcast_address:
            raise InvalidArgument(f"address: {address} is the broadcast address of {self.subnet}")


def first_free_subnet(within: Network, prefix_length: int, taken: Iterable[Network]) -> Network | None:
    """The first aligned /prefix_length of `within` that overlaps none of `taken`.

    `taken` must be sorted by network address; each one is looked at once, so the walk costs
    O(len(taken)), not the number of candidate subnets.
    """
    size = 1 << (within.max_prefixlen - prefix_length)
    end = int(within.broadcast_address)
    candidate = int(within.network_address)
    for other in taken:
        low, high = int(other.network_address), int(other.broadcast_address)
        if high < candidate:
            continue
        if low > candidate + size - 1:
            break
        candidate = (high // size + 1) * size  # the first aligned block after `other`
        if candidate > end:
            return None
    if candidate + size - 1 > end:
        return None
    return ipaddress.ip_network((candidate, prefix_length))
