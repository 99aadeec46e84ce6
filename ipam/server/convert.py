"""Records to protobuf messages and protobuf enums to domain values (nothing else)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from ipam.domain import liveness
from ipam.domain.docker_network import ROLE_AUX, ROLE_CONTAINER, ROLE_GATEWAY
from ipam.domain.errors import InvalidArgument
from ipam.domain.layout import GATEWAY_FIRST_USABLE, GATEWAY_NONE
from ipam.domain.records import (
    HistoryRow,
    HostRecord,
    KeptSubnet,
    LeaseRecord,
    PoolRecord,
    Reclaimed,
    SpaceRecord,
    SubnetRecord,
    Usage,
)
from ipam.domain.tokens import TokenRecord
from ipam.service.gc import GcReport
from ipam_client._pb.ipam.v1 import ipam_pb2 as pb

_GATEWAY_TO_DOMAIN = {
    pb.GATEWAY_POLICY_UNSPECIFIED: GATEWAY_FIRST_USABLE,
    pb.GATEWAY_POLICY_FIRST_USABLE: GATEWAY_FIRST_USABLE,
    pb.GATEWAY_POLICY_NONE: GATEWAY_NONE,
}
_GATEWAY_TO_PB = {GATEWAY_FIRST_USABLE: pb.GATEWAY_POLICY_FIRST_USABLE, GATEWAY_NONE: pb.GATEWAY_POLICY_NONE}
_STATE_TO_DOMAIN = {
    pb.LEASE_STATE_UNSPECIFIED: "",
    pb.LEASE_STATE_ACTIVE: "active",
    pb.LEASE_STATE_RELEASED: "released",
}
_STATE_TO_PB = {"active": pb.LEASE_STATE_ACTIVE, "released": pb.LEASE_STATE_RELEASED}
_HOST_STATE_TO_PB = {
    liveness.ALIVE: pb.HOST_STATE_ALIVE,
    liveness.STALE: pb.HOST_STATE_STALE,
    liveness.DEAD: pb.HOST_STATE_DEAD,
}
_REASON_TO_PB = {
    liveness.DEAD_HOST: pb.GC_REASON_DEAD_HOST,
    liveness.RUNTIME_GONE: pb.GC_REASON_RUNTIME_GONE,
    liveness.EMPTY_SUBNET: pb.GC_REASON_EMPTY_SUBNET,
    liveness.HOST_DELETED: pb.GC_REASON_HOST_DELETED,
}
_REASON_TO_DOMAIN = {pb.GC_REASON_UNSPECIFIED: "", **{v: k for k, v in _REASON_TO_PB.items()}}
_ROLES = {
    pb.NETWORK_ADDRESS_ROLE_CONTAINER: ROLE_CONTAINER,
    pb.NETWORK_ADDRESS_ROLE_GATEWAY: ROLE_GATEWAY,
    pb.NETWORK_ADDRESS_ROLE_AUX: ROLE_AUX,
}
_FAMILIES = {pb.FAMILY_UNSPECIFIED: 0, pb.FAMILY_IPV4: 4, pb.FAMILY_IPV6: 6}
_FAMILY_TO_PB = {4: pb.FAMILY_IPV4, 6: pb.FAMILY_IPV6}


V = TypeVar("V")


def enum_value(field: str, value: int, table: Mapping[Any, V], enum_name: str) -> V:
    if value not in table:
        raise InvalidArgument(f"{field}: {value} is not a known {enum_name} value")
    return table[value]


def gateway_policy(value: int) -> str:
    return enum_value("gateway_policy", value, _GATEWAY_TO_DOMAIN, "GatewayPolicy")


def lease_state(value: int) -> str:
    return enum_value("state", value, _STATE_TO_DOMAIN, "LeaseState")


def network_address_role(value: int) -> str:
    return enum_value("role", value, _ROLES, "NetworkAddressRole")


def family(field: str, value: int) -> int:
    return enum_value(field, value, _FAMILIES, "Family")


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def usage(value: Usage | None) -> pb.Usage | None:
    if value is None:
        return None
    return pb.Usage(
        total_addresses=str(value.total_addresses),
        reserved_addresses=str(value.reserved_addresses),
        allocated_addresses=str(value.allocated_addresses),
        free_addresses=str(value.free_addresses),
        cooling_addresses=str(value.cooling_addresses),
        total_subnets=value.total_subnets,
        allocated_subnets=value.allocated_subnets,
        free_subnets=value.free_subnets,
    )


def space(record: SpaceRecord) -> pb.AddressSpace:
    return pb.AddressSpace(name=record.name, description=record.description, create_time=timestamp(record.created_at))


def pool(record: PoolRecord) -> pb.Pool:
    return pb.Pool(
        name=record.name,
        space=record.space,
        cidr=record.cidr,
        family=_FAMILY_TO_PB[record.family],
        host_prefix_length=record.host_prefix_length,
        reserved_cidrs=record.reserved_cidrs,
        host_selector=record.host_selector,
        disabled=record.disabled,
        cooldown_seconds=record.cooldown_seconds,
        max_subnets_per_host=record.max_subnets_per_host,
        gateway_policy=_GATEWAY_TO_PB[record.gateway_policy],
        create_time=timestamp(record.created_at),
        update_time=timestamp(record.updated_at),
        usage=usage(record.usage),
    )


def host(record: HostRecord) -> pb.Host:
    return pb.Host(
        name=record.name,
        labels=record.labels,
        create_time=timestamp(record.created_at),
        last_seen_time=timestamp(record.last_seen_at),
        state=_HOST_STATE_TO_PB[record.state],
        heartbeat_ttl_seconds=record.heartbeat_ttl_seconds,
        drain_time=timestamp(record.drained_at),
    )


def gc_item(item: Reclaimed) -> pb.GcItem:
    return pb.GcItem(
        reason=_REASON_TO_PB[item.reason],
        kind=item.kind,
        host=item.host,
        space=item.space,
        pool=item.pool,
        target=item.target,
        owner_id=item.owner_id,
        interface=item.interface,
    )


def kept_subnet(kept: KeptSubnet) -> pb.KeptSubnet:
    borrowed = [
        pb.BorrowedLease(address=b.address, host=b.host, owner_id=b.owner_id, interface=b.interface)
        for b in kept.borrowed
    ]
    return pb.KeptSubnet(cidr=kept.cidr, space=kept.space, pool=kept.pool, host=kept.host, borrowed=borrowed)


def gc_report(report: GcReport) -> pb.RunGcResponse:
    kinds = sorted(set(report.candidates) | set(report.reclaimed))
    counts = []
    for key in kinds:
        kind, reason = key.split(":")
        counts.append(
            pb.GcCount(
                reason=_REASON_TO_PB[reason],
                kind=kind,
                candidates=report.candidates[key],
                reclaimed=report.reclaimed[key],
            )
        )
    return pb.RunGcResponse(
        dry_run=report.dry_run,
        grace=duration(report.grace_seconds),
        start_time=timestamp(report.started_at),
        duration=duration(report.duration_seconds),
        counts=counts,
        items=[gc_item(item) for item in report.items],
    )


def gc_record(row: HistoryRow) -> pb.GcRecord:
    item = Reclaimed(row.reason, row.kind, row.host, row.space, row.pool, row.target, row.owner_id, row.interface)
    return pb.GcRecord(id=row.id, time=timestamp(row.at), item=gc_item(item), detail=row.detail)


def gc_reason(value: int) -> str:
    return enum_value("reason", value, _REASON_TO_DOMAIN, "GcReason")


def duration(seconds: float) -> Duration:
    message = Duration()
    message.FromNanoseconds(round(seconds * 1e9))
    return message


# google.protobuf.Duration's own range (about 10,000 years).
MAX_DURATION_SECONDS = 315_576_000_000
MAX_NANOS = 999_999_999


def seconds_of(field: str, value: Duration) -> int:
    """Whole seconds of a Duration field; fractions, negatives and values that are no Duration
    at all are the caller's mistake (the use case bounds the seconds further)."""
    if abs(value.seconds) > MAX_DURATION_SECONDS or abs(value.nanos) > MAX_NANOS:
        raise InvalidArgument(
            f"{field}: seconds={value.seconds}, nanos={value.nanos} is not a valid Duration "
            f"(seconds within +-{MAX_DURATION_SECONDS}, nanos within +-{MAX_NANOS})"
        )
    if value.nanos:
        raise InvalidArgument(f"{field}: whole seconds only, got {value.seconds} s and {value.nanos} ns")
    if value.seconds < 0:
        raise InvalidArgument(f"{field}: {value.seconds} s must not be negative")
    return int(value.seconds)


def subnet(record: SubnetRecord) -> pb.HostSubnet:
    return pb.HostSubnet(
        cidr=record.cidr,
        pool=record.pool,
        space=record.space,
        host=record.host,
        gateway=record.gateway,
        create_time=timestamp(record.created_at),
        usage=usage(record.usage),
    )


def lease(record: LeaseRecord) -> pb.Lease:
    return pb.Lease(
        address=record.address,
        address_cidr=f"{record.address}/{record.prefix_length}",
        gateway=record.gateway,
        subnet=record.subnet,
        pool=record.pool,
        space=record.space,
        host=record.host,
        owner_id=record.owner_id,
        interface=record.interface,
        attributes=record.attributes,
        state=_STATE_TO_PB[record.state],
        allocate_time=timestamp(record.allocated_at),
        release_time=timestamp(record.released_at),
        family=_FAMILY_TO_PB[record.family],
    )


def token(record: TokenRecord) -> pb.ApiToken:
    return pb.ApiToken(
        id=record.id,
        name=record.name,
        role=record.role,
        host=record.host or "",
        create_time=timestamp(record.created_at),
        expire_time=timestamp(record.expires_at),
        revoke_time=timestamp(record.revoked_at),
    )
