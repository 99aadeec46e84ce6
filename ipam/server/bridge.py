"""Serving the handlers and interceptors on a grpc.aio server.

The server is asynchronous so that a watch stream costs a coroutine, not a thread. The unary
handlers and the interceptors' scopes stay synchronous code: the `Dispatcher` runs the
interceptors per call (as grpc's own server does), then runs a synchronous behaviour on the
worker pool with a `SyncContext`, which gives it the synchronous ServicerContext API
(`abort` raises; `add_callback`) over the call's asynchronous context. Asynchronous behaviours
(the watch stream, health checks) run on the event loop, with the same context wrapper.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from typing import Any, cast

import grpc
import grpc.aio


class Aborted(Exception):
    """`SyncContext.abort` on a worker thread; the bridge ends the call with it on the loop."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class SyncContext:
    """The synchronous ServicerContext API over a grpc.aio call's context.

    A worker thread may still run after grpc.aio has ended the call (its deadline passed) and
    released the call's core object: what needs that object (the peer) is read up front, on
    the loop, while the call is alive; the rest lives in Python objects that outlast the call.
    """

    def __init__(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self._context = context
        self._code: grpc.StatusCode | None = None
        self._peer: str = context.peer()

    def abort(self, code: grpc.StatusCode, details: str = "") -> None:
        self._code = code
        raise Aborted(code, details)

    def code(self) -> grpc.StatusCode | None:
        return self._code if self._code is not None else self._context.code()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Run `callback` when the call ends (on the event loop); False when it has ended already."""
        if self._context.done():
            return False
        self._context.add_done_callback(lambda _: callback())  # type: ignore[arg-type]
        return True

    def peer(self) -> str:
        return self._peer

    def auth_context(self) -> dict[str, list[bytes]]:
        raise NotImplementedError("auth_context is not available to handlers on worker threads")

    def is_active(self) -> bool:
        return not self._context.done()

    def __getattr__(self, name: str) -> Any:  # time_remaining, peer, set_trailing_metadata, ...
        return getattr(self._context, name)


def _passing_bytes(serialize: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """A response serializer that sends bytes as they are: a stream may hand every subscriber
    the same message, serialized once."""

    def serialized(response: Any) -> bytes:
        if isinstance(response, bytes):
            return response
        return serialize(response) if serialize is not None else response

    return serialized


def bridged(handler: grpc.RpcMethodHandler, workers: Executor) -> grpc.RpcMethodHandler:
    """`handler` as grpc.aio runs it: synchronous unary behaviours on `workers`, every behaviour
    with a SyncContext, and an abort from either ended on the loop."""
    if handler.unary_unary is not None:
        unary = handler.unary_unary
        asynchronous = inspect.iscoroutinefunction(unary)

        async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            wrapped = cast(grpc.ServicerContext, SyncContext(context))
            try:
                if asynchronous:
                    return await unary(request, wrapped)
                return await asyncio.get_running_loop().run_in_executor(workers, unary, request, wrapped)
            except Aborted as exc:
                await context.abort(exc.code, exc.details)

        return grpc.unary_unary_rpc_method_handler(
            call, request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer
        )
    if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
        stream = handler.unary_stream

        async def replies(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            try:
                async for reply in stream(request, cast(grpc.ServicerContext, SyncContext(context))):
                    yield reply
            except Aborted as exc:
                await context.abort(exc.code, exc.details)

        return grpc.unary_stream_rpc_method_handler(
            replies,
            request_deserializer=handler.request_deserializer,
            response_serializer=_passing_bytes(handler.response_serializer),
        )
    return handler  # grpc's own (reflection's bidirectional stream): served as it is


class MethodTable:
    """Collects what the generated `add_*Servicer_to_server` functions register, by method path."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        for name, handler in handlers.items():
            self.handlers[f"/{service}/{name}"] = handler

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        pass  # the same handlers arrive through add_registered_method_handlers


class Dispatcher(grpc.GenericRpcHandler):
    """Finds a call's handler, wraps it in the interceptors (outermost first) and bridges it."""

    def __init__(self, table: MethodTable, interceptors: Sequence[grpc.ServerInterceptor], workers: Executor) -> None:
        self._table = table
        self._interceptors = list(interceptors)
        self._workers = workers

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = self._intercepted(0, handler_call_details)
        return None if handler is None else bridged(handler, self._workers)

    def _intercepted(self, index: int, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        if index == len(self._interceptors):
            return self._table.handlers.get(details.method)
        return self._interceptors[index].intercept_service(lambda d: self._intercepted(index + 1, d), details)
