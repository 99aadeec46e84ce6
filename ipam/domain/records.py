"""Plain records the use cases return; the gRPC layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Usage:
    total_addresses: int
    reserved_addresses: int
    allocated_addresses: int
    cooling_addresses: int
    total_subnets: int
    allocated_subnets: int

    @property
    def free_addresses(self) -> int:
        """Assignable now: not reserved, not allocated, not cooling down after a release."""
        return self.total_addresses - self.reserved_addresses - self.allocated_addresses - self.cooling_addresses

    @property
    def free_subnets(self) -> int:
        return self.total_subnets - self.allocated_subnets


@dataclass(frozen=True)
class SpaceRecord:
    name: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class PoolRecord:
    id: int
    name: str
    space: str
    space_id: int
    cidr: str
    family: int
    host_prefix_length: int
    reserved_cidrs: list[str]
    host_selector: str
    disabled: bool
    cooldown_seconds: int
    max_subnets_per_host: int
    gateway_policy: str
    created_at: datetime
    updated_at: datetime
    usage: Usage | None = None


@dataclass(frozen=True)
class HostRecord:
    name: str
    labels: dict[str, str]
    created_at: datetime
    last_seen_at: datetime
    heartbeat_ttl_seconds: int
    drained_at: datetime | None
    state: str  # ipam.domain.liveness: alive, stale or dead


@dataclass(frozen=True)
class SubnetRecord:
    cidr: str
    pool: str
    space: str
    host: str
    gateway: str
    created_at: datetime
    usage: Usage | None = None


@dataclass(frozen=True)
class LeaseRecord:
    address: str
    prefix_length: int
    gateway: str
    subnet: str
    pool: str
    space: str
    host: str
    owner_id: str
    interface: str
    state: str
    allocated_at: datetime
    released_at: datetime | None
    family: int
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str


@dataclass(frozen=True)
class Reclaimed:
    """A lease or host subnet reclaimed (or, in a dry run, that would be)."""

    reason: str
    kind: str  # "lease" or "subnet"
    host: str
    space: str
    pool: str
    target: str  # the address or the CIDR
    owner_id: str = ""
    interface: str = ""


@dataclass(frozen=True)
class Borrowed:
    """An active lease of one host at an address inside another host's subnet."""

    address: str
    host: str
    owner_id: str
    interface: str


@dataclass(frozen=True)
class KeptSubnet:
    """A host subnet kept (not returned to its pool) because other hosts hold addresses in it."""

    cidr: str
    space: str
    pool: str
    host: str
    borrowed: list[Borrowed]


@dataclass(frozen=True)
class HistoryRow:
    """A row of the garbage collection history (gc_record)."""

    id: int
    at: datetime
    reason: str
    kind: str
    host: str
    space: str
    pool: str
    target: str
    owner_id: str
    interface: str
    detail: str


@dataclass(frozen=True)
class EndpointAddress:
    address: str
    pool: str
    space: str


@dataclass(frozen=True)
class EndpointRecord:
    id: int
    host: str
    owner_id: str
    interface: str
    network: str
    mac: str
    labels: dict[str, str]
    addresses: list[EndpointAddress]
    state: str  # "active" or "deleted"
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class EndpointEvent:
    revision: int
    kind: str  # "added", "updated" or "removed"
    at: datetime
    endpoint: EndpointRecord


@dataclass(frozen=True)
class AddressHolder:
    """The endpoint that held an address, and from when until when (None: still holds it)."""

    endpoint: EndpointRecord
    held_from: datetime
    held_until: datetime | None
