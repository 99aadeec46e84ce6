"""What a host's dockerd reports in use, checked: the input of Docker reconciliation.

The agent lists dockerd's networks of its driver (their subnets) and the container addresses
their endpoints hold; whatever the server has for the host beyond that, old enough, is gone.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ipam.domain import validate
from ipam.domain.errors import InvalidArgument
from ipam.domain.network import Address, Network, parse_address, parse_cidr

# dockerd asks for a pool before the network shows in its API, and for an address before the
# endpoint does: younger leases and memberships are left alone.
DEFAULT_MIN_AGE_SECONDS = 60
MAX_MIN_AGE_SECONDS = 24 * 3600
# The most one request may list (a host's dockerd has far fewer): the request's cost stays bounded.
MAX_NETWORKS = 10_000
MAX_SUBNETS = 10_000
MAX_ADDRESSES = 100_000


@dataclass(frozen=True)
class InUse:
    """Canonical text of every listed network subnet and container address."""

    subnets: list[str]
    addresses: list[str]


def in_use(networks: Sequence[tuple[Sequence[str], Sequence[str]]]) -> InUse:
    """(subnets, addresses) per network; each address must lie in one of its network's subnets."""
    _check_size(networks)
    subnets: list[str] = []
    addresses: list[str] = []
    for i, (network_subnets, network_addresses) in enumerate(networks):
        if not network_subnets:
            raise InvalidArgument(f"networks[{i}].subnets: must not be empty (a network has at least one subnet)")
        parsed = [parse_cidr(f"networks[{i}].subnets[{j}]", s) for j, s in enumerate(network_subnets)]
        subnets += [str(s) for s in parsed]
        ranges = _Ranges(parsed)
        for j, text in enumerate(network_addresses):
            address = _address(f"networks[{i}].addresses[{j}]", text)
            if not ranges.contains(address):
                shown = ", ".join(str(s) for s in parsed[:3]) + (", ..." if len(parsed) > 3 else "")
                raise InvalidArgument(
                    f"networks[{i}].addresses[{j}]: {address} is outside the network's subnets ({shown})"
                )
            addresses.append(str(address))
    return InUse(subnets, addresses)


def _check_size(networks: Sequence[tuple[Sequence[str], Sequence[str]]]) -> None:
    counts = (
        ("networks", len(networks), MAX_NETWORKS),
        ("subnets", sum(len(s) for s, _ in networks), MAX_SUBNETS),
        ("addresses", sum(len(a) for _, a in networks), MAX_ADDRESSES),
    )
    for what, count, limit in counts:
        if count > limit:
            raise InvalidArgument(f"networks: {count} {what} in one request; at most {limit} are allowed")


class _Ranges:
    """Subnets as sorted (family, first, last) integer ranges: a membership test is one bisection,
    so checking n addresses against m subnets costs O((n + m) log m), not O(n * m)."""

    def __init__(self, subnets: Sequence[Network]) -> None:
        ranges = sorted((s.version, int(s.network_address), int(s.broadcast_address)) for s in subnets)
        self._starts = [(version, first) for version, first, _ in ranges]
        self._ranges = ranges
        # The furthest end of any range so far: ranges may nest (a /16 and a /24 inside it).
        self._reach: list[tuple[int, int]] = []
        for version, _, last in ranges:
            previous = self._reach[-1] if self._reach else (0, -1)
            self._reach.append(max(previous, (version, last)) if previous[0] == version else (version, last))

    def contains(self, address: Address) -> bool:
        key = (address.version, int(address))
        i = bisect.bisect_right(self._starts, key) - 1
        return i >= 0 and self._reach[i] >= key


def min_age(seconds: int) -> int:
    """The minimum age of what may be released; 0 means the default."""
    if seconds == 0:
        return DEFAULT_MIN_AGE_SECONDS
    return validate.integer_range("min_age_seconds", seconds, 0, MAX_MIN_AGE_SECONDS)


def _address(field: str, text: str) -> Address:
    """An address as dockerd reports an endpoint's, "10.1.2.3/24", or a bare one."""
    bare, slash, _ = text.partition("/")
    address = parse_address(field, bare)
    if slash:
        try:
            ipaddress.ip_interface(text)
        except ValueError:
            raise InvalidArgument(f"{field}: {text!r} has an invalid prefix length") from None
    return address
