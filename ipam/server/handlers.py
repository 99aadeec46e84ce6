"""Wrapping an RPC method handler in a context manager: what the interceptors share."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc

# Entered around the whole call (for a stream: until its last message is sent).
Scope = Callable[[grpc.ServicerContext], AbstractContextManager[Any]]


def _as_is(request: Any) -> Any:
    return request


def within(
    handler: grpc.RpcMethodHandler | None,
    scope: Scope,
    *,
    deserializer: Callable[[bytes], Any] | None = None,
    accept: Callable[[Any], Any] = _as_is,
    before: Callable[[], Awaitable[None]] | None = None,
) -> grpc.RpcMethodHandler | None:
    """`handler` with each call run inside `scope(context)`, its request decoded by `deserializer`
    (default: the handler's own) and passed through `accept` inside the scope; unary-request
    handlers only (all ours). Asynchronous behaviours (coroutines, async generators) stay
    asynchronous: the scope is then entered on the event loop, around the whole call, after
    awaiting `before` (what would block the loop, done elsewhere)."""
    if handler is None:
        return None
    decode = deserializer or handler.request_deserializer
    if inspect.iscoroutinefunction(handler.unary_unary):
        unary_async = handler.unary_unary

        async def call_async(request: Any, context: grpc.ServicerContext) -> Any:
            if before is not None:
                await before()
            with scope(context):
                return await unary_async(accept(request), context)

        return grpc.unary_unary_rpc_method_handler(
            call_async, request_deserializer=decode, response_serializer=handler.response_serializer
        )
    if inspect.isasyncgenfunction(handler.unary_stream):
        stream_async = handler.unary_stream

        async def replies_async(request: Any, context: grpc.ServicerContext) -> AsyncIterator[Any]:
            if before is not None:
                await before()
            with scope(context):
                async for reply in stream_async(accept(request), context):
                    yield reply

        return grpc.unary_stream_rpc_method_handler(
            replies_async, request_deserializer=decode, response_serializer=handler.response_serializer
        )
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            with scope(context):
                return unary(accept(request), context)

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=decode, response_serializer=handler.response_serializer
        )
    if handler.unary_stream is not None:
        stream = handler.unary_stream

        def replies(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            with scope(context):
                yield from stream(accept(request), context)

        return grpc.unary_stream_rpc_method_handler(
            replies, request_deserializer=decode, response_serializer=handler.response_serializer
        )
    return handler


def is_asynchronous(handler: grpc.RpcMethodHandler) -> bool:
    """Whether the handler's behaviour runs on the event loop (a coroutine or an async generator)."""
    return inspect.iscoroutinefunction(handler.unary_unary) or inspect.isasyncgenfunction(handler.unary_stream)


class ScopeInterceptor(grpc.ServerInterceptor):
    """An interceptor that runs each call of a method inside `scope(details)`, or leaves the method
    alone when that is None."""

    def scope(self, details: grpc.HandlerCallDetails) -> Scope | None:
        raise NotImplementedError

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        scope = self.scope(handler_call_details)
        return handler if scope is None else within(handler, scope)


@dataclass
class Outcome:
    """How a call ended, known once `measured` exits."""

    code: grpc.StatusCode = grpc.StatusCode.OK
    seconds: float = 0.0


@contextmanager
def measured(context: grpc.ServicerContext) -> Iterator[Outcome]:
    """Time the block and find the status the call ends with (its behaviour returned or raised)."""
    outcome = Outcome()
    start = time.perf_counter()
    ended = grpc.StatusCode.UNKNOWN
    try:
        yield outcome
        ended = grpc.StatusCode.OK
    except asyncio.CancelledError:  # a stream on the event loop whose caller went away
        ended = grpc.StatusCode.CANCELLED
        raise
    finally:
        outcome.seconds = time.perf_counter() - start
        code: grpc.StatusCode | None = context.code()  # type: ignore[attr-defined]
        outcome.code = code if code is not None else ended
