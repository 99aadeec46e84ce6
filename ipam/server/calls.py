"""Binds each RPC to a Call (ipam.store.call): its deadline bounds every statement it runs, and
its end (the client cancelling, its deadline passing, the server stopping) stops them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from ipam.server.handlers import Scope, ScopeInterceptor
from ipam.store import call as calls

# grpc reports a call without a deadline as one centuries away.
NO_DEADLINE_SECONDS = 10 * 365 * 86400


class CallInterceptor(ScopeInterceptor):
    def scope(self, details: grpc.HandlerCallDetails) -> Scope:
        @contextmanager
        def bound(context: grpc.ServicerContext) -> Iterator[None]:
            remaining = context.time_remaining()
            call = calls.Call(None if remaining is None or remaining > NO_DEADLINE_SECONDS else remaining)
            if not context.add_callback(call.cancel):  # called when the RPC ends, however it ends
                call.cancel()  # it has ended already
            with calls.bound(call):
                yield

        return bound
