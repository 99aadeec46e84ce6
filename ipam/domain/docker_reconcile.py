"""What a host's dockerd reports in use, checked: the input of Docker reconciliation.

The agent lists dockerd's networks of its driver (their subnets) and the container addresses
their endpoints hold; whatever the server has for the host beyond that, old enough, is gone.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class InUse:
    """Canonical text of every listed network subnet and container address."""

    subnets: list[str]
    addresses: list[str]


def in_use(networks: Sequence[tuple[Sequence[str], Sequence[str]]]) -> InUse:
    """(subnets, addresses) per network; each address must lie in one of its network's subnets."""
    subnets: list[str] = []
    addresses: list[str] = []
    for i, (network_subnets, network_addresses) in enumerate(networks):
        if not network_subnets:
            raise InvalidArgument(f"networks[{i}].subnets: must not be empty (a network has at least one subnet)")
        parsed = [parse_cidr(f"networks[{i}].subnets[{j}]", s) for j, s in enumerate(network_subnets)]
        subnets += [str(s) for s in parsed]
        for j, text in enumerate(network_addresses):
            address = _address(f"networks[{i}].addresses[{j}]", text)
            if not any(_inside(address, s) for s in parsed):
                shown = ", ".join(str(s) for s in parsed)
                raise InvalidArgument(
                    f"networks[{i}].addresses[{j}]: {address} is outside the network's subnets ({shown})"
                )
            addresses.append(str(address))
    return InUse(subnets, addresses)


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


def _inside(address: Address, subnet: Network) -> bool:
    return address.version == subnet.version and address in subnet
