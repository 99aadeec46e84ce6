"""One log line per RPC: method, status code, duration, peer, request id and the caller's token
name (never the token). Logger "ipam.access" at INFO; `--log-format json` makes each a JSON object.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from ipam.server.handlers import Scope, ScopeInterceptor, measured
from ipam.server.principal import call_scope

log = logging.getLogger("ipam.access")
REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID = 128


# New request ids: a random prefix per process and a counter (a uuid4 per call costs more).
_PREFIX = secrets.token_hex(6)
_NEXT = itertools.count(1)


def request_id(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    """The caller's x-request-id (trimmed), else a new one unique across processes."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and value.strip():
            return value.strip()[:MAX_REQUEST_ID]
    return f"{_PREFIX}-{next(_NEXT):x}"


class AccessLogInterceptor(ScopeInterceptor):
    def scope(self, details: grpc.HandlerCallDetails) -> Scope | None:
        if not log.isEnabledFor(logging.INFO):
            return None
        method = details.method
        metadata = details.invocation_metadata

        @contextmanager
        def logged(context: grpc.ServicerContext) -> Iterator[None]:
            with call_scope() as call:  # shared with the auth scope inside, which names the caller
                try:
                    with measured(context) as outcome:
                        yield
                finally:
                    fields: dict[str, object] = {
                        "method": method,
                        "code": outcome.code.name,
                        "duration_ms": round(outcome.seconds * 1000, 3),
                        "peer": context.peer(),
                        "request_id": request_id(metadata),
                    }
                    if call.principal is not None:
                        fields["caller"] = call.principal.name  # the token's name, never the token
                    log.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"fields": fields})

        return logged
