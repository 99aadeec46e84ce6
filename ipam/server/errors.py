"""The one map from domain errors to gRPC status codes, applied by one interceptor."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import grpc

from ipam.domain import errors
from ipam.server.handlers import Scope, ScopeInterceptor
from ipam_client.errors import SERVER_ERROR_KEY

log = logging.getLogger(__name__)
# A message travels in a header: grpc refuses headers past 8 KiB (the client then sees
# RESOURCE_EXHAUSTED instead), so no message may come near it, whatever value it quotes.
MAX_MESSAGE = 1024

STATUS_OF: dict[type[errors.IpamError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Busy: grpc.StatusCode.ABORTED,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Overloaded: grpc.StatusCode.UNAVAILABLE,  # retried by clients, perhaps on another replica
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.Cancelled: grpc.StatusCode.CANCELLED,
    errors.Interrupted: grpc.StatusCode.ABORTED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
}


def status_of(error: errors.IpamError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return grpc.StatusCode.INTERNAL


def abort(context: grpc.ServicerContext, error: errors.IpamError) -> None:
    """End the call with the error's status; the trailer tells clients the server answered."""
    context.set_trailing_metadata(((SERVER_ERROR_KEY, "server"),))
    message = str(error)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    context.abort(status_of(error), message)


class ErrorInterceptor(ScopeInterceptor):
    """Turns domain errors into status codes; anything unexpected is logged and hidden."""

    def scope(self, details: grpc.HandlerCallDetails) -> Scope:
        method = details.method

        @contextmanager
        def guarded(context: grpc.ServicerContext) -> Iterator[None]:
            try:
                yield
            except errors.IpamError as exc:
                abort(context, exc)
            except Exception:
                log.exception("unexpected error in %s", method)
                context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}; see the server log")

        return guarded
