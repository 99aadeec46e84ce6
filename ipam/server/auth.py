"""The auth interceptor: a bearer token in, a Principal for the call out, or UNAUTHENTICATED /
PERMISSION_DENIED. The role check reads ipam.server.policy; host checks happen in the servicers.

Verification runs inside the call (on a worker thread), never in intercept_service, which runs
on gRPC's single polling thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from ipam.domain.errors import IpamError, Unauthenticated
from ipam.server import policy
from ipam.server.errors import abort
from ipam.server.handlers import Scope, ScopeInterceptor
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


class AuthInterceptor(ScopeInterceptor):
    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    def scope(self, details: grpc.HandlerCallDetails) -> Scope | None:
        method = details.method
        if policy.is_open(method):
            return None

        @contextmanager
        def authenticated(context: grpc.ServicerContext) -> Iterator[None]:
            try:
                principal = self.tokens.verify(bearer_token(details.invocation_metadata))
                policy.authorize(method, principal)
            except IpamError as exc:  # not valid, not allowed, or the database is down
                abort(context, exc)
            with call_scope() as call:
                call.principal = principal
                yield

        return authenticated
