"""One log line per RPC: method, status code, duration, peer, request id and the caller's token
name (never the token). Logger "ipam.access" at INFO; `--log-format json` makes each a JSON object.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc

from ipam.server.handlers import final_code, within
from ipam.server.principal import call_scope

log = logging.getLogger("ipam.access")
REQUEST_ID_KEY = "x-request-id"
MAX_REQUEST_ID = 128


def request_id(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
    """The caller's x-request-id (trimmed), else a new one."""
    for key, value in metadata or ():
        if key == REQUEST_ID_KEY and isinstance(value, str) and value.strip():
            return value.strip()[:MAX_REQUEST_ID]
    return uuid.uuid4().hex


class AccessLogInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if not log.isEnabledFor(logging.INFO):
            return handler
        method = handler_call_details.method
        metadata = handler_call_details.invocation_metadata

        @contextmanager
        def logged(context: grpc.ServicerContext) -> Iterator[None]:
            start = time.perf_counter()
            failed = True
            with call_scope() as call:  # shared with the auth scope inside, which names the caller
                try:
                    yield
                    failed = False
                finally:
                    fields: dict[str, object] = {
                        "method": method,
                        "code": final_code(context, failed).name,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                        "peer": context.peer(),
                        "request_id": request_id(metadata),
                    }
                    if call.principal is not None:
                        fields["caller"] = call.principal.name  # the token's name, never the token
                    log.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"fields": fields})

        return within(handler, logged)
