"""Parsing CIDRs and addresses strictly, with messages that name the field."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from ipam.domain.errors import InvalidArgument

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_cidr(field: str, value: str) -> Network:
    """A canonical CIDR: "10.1.0.0/16" is fine, "10.1.0.1/16" (host bits set) is an error."""
    if not value:
        raise InvalidArgument(f"{field}: must not be empty")
    if "/" not in value:
        raise InvalidArgument(f"{field}: {value!r} is not a CIDR (expected address/prefix-length)")
    if "%" in value:
        raise InvalidArgument(f"{field}: {value!r} has a zone index (%...); give the CIDR without it")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise InvalidArgument(f"{field}: {value!r} is not a valid CIDR ({exc})") from None
        raise InvalidArgument(f"{field}: {value!r} has host bits set; did you mean {str(loose)!r}?") from None


def parse_address(field: str, value: str) -> Address:
    if not value:
        raise InvalidArgument(f"{field}: must not be empty")
    if "%" in value:
        raise InvalidArgument(f"{field}: {value!r} has a zone index (%...); give the address without it")
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise InvalidArgument(f"{field}: {value!r} is not a valid IP address") from None
