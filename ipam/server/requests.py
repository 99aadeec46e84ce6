"""Every request as it arrives: bytes that do not decode, and strings no field may hold, are the
caller's mistake (INVALID_ARGUMENT), checked once here for every RPC.

grpc decodes a request before any interceptor or servicer runs and answers INTERNAL when that
fails, so the decoder itself is wrapped: it hands the call a `Rejected` instead of raising, and
the call raises InvalidArgument inside the error interceptor's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ipam.domain import selector, validate
from ipam.domain.errors import InvalidArgument
from ipam.server.handlers import within

# Selectors may be longer than other strings (and their terms have limits of their own).
LONG_FIELDS = {"label_selector": selector.MAX_LENGTH, "host_selector": selector.MAX_LENGTH}


@dataclass(frozen=True)
class Rejected:
    """A request that never reaches the servicer, and why."""

    message: str


def check_strings(message: Message, prefix: str = "") -> None:
    """Every string in `message`, nested messages and map keys included, passes validate.request_string."""
    for field, value in message.ListFields():
        path = prefix + field.name
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            value_field = entry.fields_by_name["value"]
            for key, item in value.items():
                shown = f"{path}[{validate.shown(key) if isinstance(key, str) else key}]"
                if isinstance(key, str):
                    validate.request_string(f"{path} key", key)
                _check_value(value_field, shown, item)
        elif field.is_repeated:
            for index, item in enumerate(value):
                _check_value(field, f"{path}[{index}]", item)
        else:
            _check_value(field, path, value)


def _check_value(field: FieldDescriptor, path: str, value: Any) -> None:
    if field.type == FieldDescriptor.TYPE_STRING:
        validate.request_string(path, value, LONG_FIELDS.get(field.name, validate.MAX_FIELD))
    elif field.type == FieldDescriptor.TYPE_MESSAGE:
        check_strings(value, f"{path}.")


def checked(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    """`deserialize`, answering a Rejected for bytes it cannot decode or strings no field may hold."""

    def decode(data: bytes) -> Any:
        try:
            request = deserialize(data) if deserialize is not None else data
        except Exception as exc:  # whatever a malformed message makes the decoder raise
            return Rejected(f"request: not a valid protobuf message of this method's request type ({exc})"[:300])
        if isinstance(request, Message):
            try:
                check_strings(request)
            except InvalidArgument as exc:
                return Rejected(str(exc))
        return request

    return decode


def _accepted(request: Any) -> Any:
    if isinstance(request, Rejected):
        raise InvalidArgument(request.message)
    return request


def _no_scope(context: grpc.ServicerContext) -> AbstractContextManager[None]:
    return nullcontext()


class RequestCheckInterceptor(grpc.ServerInterceptor):
    """Innermost interceptor: its InvalidArgument goes through the error interceptor like any other."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming:
            return handler  # reflection's stream: grpc's own, not ours to check
        return within(handler, _no_scope, deserializer=checked(handler.request_deserializer), accept=_accepted)
