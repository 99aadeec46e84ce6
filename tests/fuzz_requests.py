"""Malformed requests for every RPC, built from the generated descriptors (a new RPC or field is
fuzzed without a change here). Half the values come from the valid setup the fuzz test makes, so
calls get past validation into the database; the rest are hostile.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from ipam_client._pb.ipam.v1 import ipam_pb2, registry_pb2

# Names and values the fuzz test's setup creates (see test_fuzz.setup).
GOOD_STRINGS = [
    "default", "s1", "p4", "p6", "dv", "h1", "h2", "c0", "c1", "eth0", "t-admin", "zone=a", "zone", "env!=dev",
    "10.80.0.5", "10.80.0.0/24", "10.80.1.0/24", "fd80::5", "fd80::/64", "10.90.1.0/24", "10.90.1.7",
    "02:42:ac:11:00:02", "net-a", "gateway", "aux", "container",
]  # fmt: skip
# Good values by field name, so that a request's fields agree often enough to get deep.
FIELD_GOOD = {
    "host": ["h1", "h1", "h2"],
    "name": ["p4", "p6", "dv", "h1", "h2", "s1", "t-admin", "new-1"],
    "space": ["", "default", "s1"],
    "pool": ["p4", "p6", "dv", ""],
    "owner_id": ["c0", "c1", "c9"],
    "interface": ["eth0", "eth1"],
    "address": ["10.80.0.1", "10.80.0.2", "10.80.1.3", "fd80::1", "10.90.1.2"],
    "cidr": ["10.80.0.0/24", "10.82.0.0/16", "10.80.1.0/24", "fd81::/48"],
    "subnet": ["10.90.1.0/24", "10.90.2.0/24", ""],
    "network": ["net-a", "10.90.1.0/24"],
    "mac": ["02:42:ac:11:00:02"],
    "mac_address": ["02:42:ac:11:00:02"],
    "role": ["admin", "agent", "reader"],
    "label_selector": ["zone=a", "zone", "!gpu", "zone!=b,env"],
    "host_selector": ["zone=a", ""],
}
HOSTILE_STRINGS = [
    "", " ", "\x00", "a\x00b", "\x01\x7f", "A" * 64, "A" * 254, "A" * 4097, "ü" * 300, "\u202e\ufeff",
    "' OR 1=1 --", "%", "_", "\\", "..", "10.80.0.0/33", "::ffff:10.80.0.2", "1.2.3.4%eth0", "0.0.0.0/0",
    "::/0", "255.255.255.255", "10.80.0.0/8", "fd80::/129", "@", "10.90.1.0/24@", "x@default",
    "10.90.1.0/24@a\x00", "a=b,", ",", "!", "a!=", "k=" + "v" * 300, ",".join(["a=b"] * 200),
]  # fmt: skip
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
PAGE_KINDS = ["Hosts", "Pools", "Leases", "Subnets", "Tokens", "AddressSpaces", "GcRecords", "Endpoints"]


@dataclass(frozen=True)
class Rpc:
    path: str  # "/ipam.v1.PoolService/CreatePool"
    request_type: type[Message]
    server_streaming: bool


def all_rpcs() -> list[Rpc]:
    """Every RPC of every service of our protos."""
    found = []
    for file in (ipam_pb2.DESCRIPTOR, registry_pb2.DESCRIPTOR):
        for service in file.services_by_name.values():
            for method in service.methods:
                found.append(_rpc(service.full_name, method))
    return found


def _rpc(service: str, method: MethodDescriptor) -> Rpc:
    request_type = message_factory.GetMessageClass(method.input_type)
    return Rpc(f"/{service}/{method.name}", request_type, method.server_streaming)


@dataclass
class Request:
    """What is sent: the message (None when the bytes were mangled) and its bytes."""

    message: Message | None
    data: bytes

    def show(self) -> str:
        if self.message is None:
            return f"bytes {self.data[:200].hex(' ')}{' ...' if len(self.data) > 200 else ''}"
        text = str(self.message).replace("\n", " ")
        return text if len(text) <= 600 else f"{text[:600]}... ({len(text)} characters)"


class Fuzzer:
    def __init__(self, seed: int, good: list[str]) -> None:
        """`good`: values of the setup known only once it ran (the Docker network's pool id)."""
        self.random = random.Random(seed)
        self.good = [*GOOD_STRINGS, *good]
        self.field_good = {**FIELD_GOOD, "pool_id": good or GOOD_STRINGS}

    def requests(self, rpcs: list[Rpc], count: int) -> Iterator[tuple[Rpc, Request]]:
        for _ in range(count):
            rpc = self.random.choice(rpcs)
            yield rpc, self.request(rpc.request_type)

    def request(self, request_type: type[Message]) -> Request:
        message = request_type()
        self.fill(message, depth=0)
        data = message.SerializeToString()
        if self.random.random() < 0.1:
            return Request(None, self.mangle(data))
        return Request(message, data)

    def fill(self, message: Message, depth: int) -> None:
        descriptor = message.DESCRIPTOR
        if descriptor.full_name == "google.protobuf.Duration":
            message.seconds = self.pick([0, 1, 60, 900, -1, 2**63 - 1, -(2**63), 315576000001])  # type: ignore[attr-defined]
            message.nanos = self.pick([0, 0, 0, 1, -1, 999999999, 1000000000, -(2**31)])  # type: ignore[attr-defined]
            return
        if descriptor.full_name == "google.protobuf.Timestamp":
            message.seconds = self.pick([0, 1_700_000_000, -1, 2**63 - 1, -(2**63), 253402300800])  # type: ignore[attr-defined]
            message.nanos = self.pick([0, 0, 5, -1, 1000000000])  # type: ignore[attr-defined]
            return
        for field in descriptor.fields:
            if self.random.random() < 0.3:
                continue  # unset
            if field.containing_oneof is not None and self.random.random() < 0.5:
                continue
            self.set_field(message, cast(FieldDescriptor, field), depth)

    def set_field(self, message: Message, field: FieldDescriptor, depth: int) -> None:
        entry = field.message_type
        container: Any = getattr(message, field.name)
        if entry is not None and entry.GetOptions().map_entry:
            key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
            for _ in range(self.size()):
                key = self.scalar(key_field)
                if value_field.type == FieldDescriptor.TYPE_MESSAGE:
                    self.fill(container[key], depth + 1)
                else:
                    container[key] = self.scalar(value_field)
        elif field.is_repeated:
            for _ in range(self.size()):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    if depth < 3:
                        self.fill(container.add(), depth + 1)
                else:
                    container.append(self.scalar(field))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < 3:
                self.fill(container, depth + 1)
                if not container.ListFields():
                    container.SetInParent()
        else:
            setattr(message, field.name, self.scalar(field))

    def size(self) -> int:
        """How many items a repeated field or map gets: mostly a few, now and then past a limit."""
        return self.pick([0, 1, 1, 2, 3, 5]) if self.random.random() < 0.97 else 70

    def scalar(self, field: FieldDescriptor) -> Any:
        kind = field.type
        if kind == FieldDescriptor.TYPE_STRING:
            return self.string(field.name)
        if kind == FieldDescriptor.TYPE_BYTES:
            return self.random.randbytes(self.pick([0, 1, 16, 300]))
        if kind == FieldDescriptor.TYPE_BOOL:
            return self.random.random() < 0.5
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return self.pick([0.0, 0.5, 1.0, -1.0, 0.01, 1e308, float("inf"), float("nan")])
        if kind == FieldDescriptor.TYPE_ENUM:
            known = [v.number for v in field.enum_type.values] if field.enum_type is not None else []
            return self.pick([*known, *known, 99, -1, 2**31 - 1])
        low, high = INT_RANGES[kind]
        small = [0, 1, 2, 10, 30, 100, 1000, 86400]
        return self.pick([v for v in [*small, *small, -1, low, high, high + low // 2] if low <= v <= high])

    def string(self, name: str) -> str:
        roll = self.random.random()
        if name == "page_token" and roll < 0.6:
            return self.page_token()
        if roll < 0.6:
            return self.pick(self.field_good.get(name, self.good))
        if roll < 0.93:
            return self.pick(HOSTILE_STRINGS)
        return "".join(chr(self.random.randint(1, 0x2FFF)) for _ in range(self.pick([1, 8, 70])))

    def page_token(self) -> str:
        key: Any = self.pick([0, 1, -1, 2**63 - 1, 2**63, 2**64, "h1", "\x00", "a" * 300, None, [], {}, 1.5, True])
        shape: Any = self.pick([{"k": self.pick(PAGE_KINDS), "a": key}, {"k": 1}, [], "[" * 300, {"a": key}])
        text = shape if isinstance(shape, str) else json.dumps(shape)
        encoded = base64.urlsafe_b64encode(text.encode()).decode()
        return self.pick([encoded, encoded, encoded[:-2], "!" + encoded, "%%%"])

    def mangle(self, data: bytes) -> bytes:
        """Bytes no protobuf encoder would write: truncated, flipped, or with bad varints and lengths."""
        how = self.random.randrange(4)
        if how == 0 and data:
            return data[: self.random.randrange(len(data))]
        if how == 1 and data:
            flipped = bytearray(data)
            for _ in range(self.random.randint(1, 4)):
                flipped[self.random.randrange(len(flipped))] ^= 1 << self.random.randrange(8)
            return bytes(flipped)
        if how == 2:
            return data + self.pick([b"\x0a\x80\x80\x80\x80\x08", b"\x08" + b"\xff" * 10, b"\x0a"])
        return self.random.randbytes(self.pick([1, 5, 40]))

    def pick(self, values: list[Any]) -> Any:
        return self.random.choice(values)
