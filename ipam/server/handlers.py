"""Wrapping an RPC method handler in a context manager: the one helper the interceptors share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import grpc

# Entered around the whole call (for a stream: until its last message is sent).
Scope = Callable[[grpc.ServicerContext], AbstractContextManager[Any]]


def within(handler: grpc.RpcMethodHandler | None, scope: Scope) -> grpc.RpcMethodHandler | None:
    """`handler` with each call run inside `scope(context)`; unary-request handlers only (all ours)."""
    if handler is None:
        return None
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            with scope(context):
                return unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    if handler.unary_stream is not None:
        stream = handler.unary_stream

        def replies(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with scope(context):
                yield from stream(request, context)

        return grpc.unary_stream_rpc_method_handler(
            replies, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    return handler


def final_code(context: grpc.ServicerContext, failed: bool) -> grpc.StatusCode:
    """The status a call ends with, once its behaviour has returned or raised."""
    code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
    if code is not None:
        return code
    return grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
