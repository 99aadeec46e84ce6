"""Plain-Python forms of request parts, converted to protobuf messages by the client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from ipam_client._pb.ipam.v1 import ipam_pb2


@dataclass(frozen=True)
class AddressSpec:
    """One address to allocate (the ``AddressRequest`` message as a dataclass).

    ``pool`` "" picks the first enabled pool of ``space`` (and ``family``: 4, 6 or 0 for any) whose
    host selector matches the host's labels; ``address`` asks for a specific address;
    ``single_subnet`` keeps the host to one subnet of the pool (exhausted rather than a second one).
    """

    pool: str = ""
    space: str = ""
    family: int = 0
    address: str = ""
    single_subnet: bool = False

    def to_pb(self) -> ipam_pb2.AddressRequest:
        return ipam_pb2.AddressRequest(
            pool=self.pool,
            space=self.space,
            family=cast("ipam_pb2.Family", self.family),
            address=self.address,
            single_subnet=self.single_subnet,
        )


def address_requests(items: Iterable[ipam_pb2.AddressRequest | AddressSpec]) -> list[ipam_pb2.AddressRequest]:
    """``AddressRequest`` messages from messages or :class:`AddressSpec` values."""
    out = []
    for item in items:
        if isinstance(item, AddressSpec):
            out.append(item.to_pb())
        elif isinstance(item, ipam_pb2.AddressRequest):
            out.append(item)
        else:
            raise TypeError(f"expected AddressSpec or pb.AddressRequest, got {type(item).__name__}")
    return out
