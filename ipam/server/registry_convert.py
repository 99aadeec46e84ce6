"""Endpoint registry records to protobuf messages, and its enums to domain values."""

from __future__ import annotations

from datetime import UTC, datetime

from ipam.domain.errors import InvalidArgument
from ipam.domain.records import AddressHolder, EndpointEvent, EndpointRecord
from ipam.server.convert import enum_value, timestamp
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb

_STATE_TO_DOMAIN = {
    rpb.ENDPOINT_STATE_UNSPECIFIED: "",
    rpb.ENDPOINT_STATE_ACTIVE: "active",
    rpb.ENDPOINT_STATE_DELETED: "deleted",
}
_STATE_TO_PB = {"active": rpb.ENDPOINT_STATE_ACTIVE, "deleted": rpb.ENDPOINT_STATE_DELETED}
_KIND_TO_PB = {
    "added": rpb.ENDPOINT_EVENT_TYPE_ADDED,
    "updated": rpb.ENDPOINT_EVENT_TYPE_UPDATED,
    "removed": rpb.ENDPOINT_EVENT_TYPE_REMOVED,
}


def endpoint_state(value: int) -> str:
    return enum_value("state", value, _STATE_TO_DOMAIN, "EndpointState")


def endpoint(record: EndpointRecord) -> rpb.Endpoint:
    return rpb.Endpoint(
        id=record.id,
        host=record.host,
        owner_id=record.owner_id,
        interface=record.interface,
        network=record.network,
        mac=record.mac,
        labels=record.labels,
        addresses=[rpb.EndpointAddress(address=a.address, pool=a.pool, space=a.space) for a in record.addresses],
        state=_STATE_TO_PB[record.state],
        create_time=timestamp(record.created_at),
        update_time=timestamp(record.updated_at),
        delete_time=timestamp(record.deleted_at),
    )


def event(record: EndpointEvent) -> rpb.EndpointEvent:
    return rpb.EndpointEvent(
        revision=record.revision,
        type=_KIND_TO_PB[record.kind],
        endpoint=endpoint(record.endpoint),
        time=timestamp(record.at),
    )


def framed_event(record: EndpointEvent) -> bytes:
    """The event as one element of WatchEndpointsResponse.events, in wire format: a stream's
    message is such elements joined, so an event is encoded once for every stream."""
    data = event(record).SerializeToString()
    return _EVENTS_TAG + _varint(len(data)) + data


# Field 1 (events), wire type 2 (length-delimited).
_EVENTS_TAG = bytes([(rpb.WatchEndpointsResponse.EVENTS_FIELD_NUMBER << 3) | 2])


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def holder(record: AddressHolder) -> rpb.LookupAddressResponse:
    return rpb.LookupAddressResponse(
        endpoint=endpoint(record.endpoint),
        held_from=timestamp(record.held_from),
        held_until=timestamp(record.held_until),
    )


def lookup_time(message: rpb.LookupAddressRequest) -> datetime | None:
    """The request's `at`, or None when unset."""
    if not message.HasField("at"):
        return None
    try:
        return message.at.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"at: {message.at.seconds} seconds since 1970 is not a valid time") from None
