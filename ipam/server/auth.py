"""The auth interceptor: a bearer token in, a Principal for the call out, or UNAUTHENTICATED /
PERMISSION_DENIED. The role check reads ipam.server.policy; host checks happen in the servicers.

Verification runs inside the call (on a worker thread), never in intercept_service, which runs
on the event loop; for a call served on the event loop (a watch stream) it runs on a thread
before the call starts, since a token not in the cache costs a query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import grpc

from ipam.domain.errors import IpamError, Unauthenticated
from ipam.domain.tokens import Principal
from ipam.server import policy
from ipam.server.errors import abort
from ipam.server.handlers import is_asynchronous, within
from ipam.server.principal import call_scope
from ipam.server.token_cache import TokenCache

MISSING = "this server requires a token: send 'authorization: Bearer <token>' metadata (ipam --token, $IPAM_TOKEN)"
NOT_BEARER = "malformed authorization metadata: expected 'Bearer <token>'"


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    values = [value for key, value in metadata or () if key == "authorization"]
    if not values:
        raise Unauthenticated(MISSING)
    scheme, _, token = str(values[0]).partition(" ")
    if len(values) > 1 or scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(NOT_BEARER)
    return token.strip()


@dataclass
class Checked:
    """The outcome of one call's token check, made once (on a thread for an asynchronous call)."""

    principal: Principal | None = None
    error: IpamError | None = None
    done: bool = False

    def run(self, check: Callable[[grpc.HandlerCallDetails], Principal], details: grpc.HandlerCallDetails) -> None:
        try:
            self.principal = check(details)
        except IpamError as exc:
            self.error = exc
        self.done = True


class AuthInterceptor(grpc.ServerInterceptor):
    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or policy.is_open(handler_call_details.method):
            return handler
        checked = Checked()

        def authenticated(context: grpc.ServicerContext) -> AbstractContextManager[None]:
            return self._authenticated(context, handler_call_details, checked)

        if not is_asynchronous(handler):  # on a worker thread: checked inside the call
            return within(handler, authenticated)

        async def before() -> None:  # a token not in the cache costs a query: not on the event loop
            await asyncio.to_thread(checked.run, self._check, handler_call_details)

        return within(handler, authenticated, before=before)

    def _check(self, details: grpc.HandlerCallDetails) -> Principal:
        principal = self.tokens.verify(bearer_token(details.invocation_metadata))
        policy.authorize(details.method, principal)
        return principal

    @contextmanager
    def _authenticated(
        self, context: grpc.ServicerContext, details: grpc.HandlerCallDetails, checked: Checked
    ) -> Iterator[None]:
        if not checked.done:
            checked.run(self._check, details)
        if checked.error is not None:  # not valid, not allowed, or the database is down
            abort(context, checked.error)
        with call_scope() as call:
            call.principal = checked.principal
            yield
