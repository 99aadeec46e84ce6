"""Errors raised by the IPAM client: one class per gRPC status code the server uses.

Every failed call raises an :class:`IpamClientError` subclass, never a raw ``grpc.RpcError``;
``.code`` is the ``grpc.StatusCode`` and ``.message`` the server's details.
"""

from __future__ import annotations

import grpc


class IpamClientError(Exception):
    """A failed IPAM call. ``str(err)`` is the message, ``.code`` the gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str, *, reached_server: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        # False when the call never got an answer from the server (connection refused, TLS failure...).
        self.reached_server = reached_server

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.name}, message={self.message!r})"


class InvalidArgument(IpamClientError):
    """The request was malformed (bad CIDR, negative number, empty name, ...)."""


class NotFound(IpamClientError):
    """The named space, pool, host, subnet or lease does not exist."""


class AlreadyExists(IpamClientError):
    """A duplicate name or an overlapping CIDR."""


class FailedPrecondition(IpamClientError):
    """The system is not in a state that allows the call (pool disabled, pool not empty, ...)."""


class ResourceExhausted(IpamClientError):
    """A pool or host subnet is full."""


class OutOfRange(IpamClientError):
    """E.g. a watch resumed from a revision whose changes were pruned: list again."""


class Unavailable(IpamClientError):
    """The server (or its database) could not be reached; retried before being raised."""


class DeadlineExceeded(IpamClientError):
    """The call did not finish within the client's timeout."""


class PermissionDenied(IpamClientError):
    """The token is valid but not allowed to make this call."""


class Unauthenticated(IpamClientError):
    """The token is missing or invalid."""


_BY_CODE: dict[grpc.StatusCode, type[IpamClientError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRange,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
}


def status_of(err: grpc.RpcError) -> tuple[grpc.StatusCode, str]:
    """The status code and details of a failed call (UNKNOWN when the error carries none)."""
    code_fn = getattr(err, "code", None)
    details_fn = getattr(err, "details", None)
    code = code_fn() if callable(code_fn) else None
    details = details_fn() if callable(details_fn) else None
    status = code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    return status, details or status.name


# Trailing metadata the server puts on the errors it raises itself (as opposed to transport errors).
SERVER_ERROR_KEY = "ipam-error-origin"


def from_server(err: grpc.RpcError) -> bool:
    """True when the server answered with this error; False for errors of the connection itself."""
    trailers_fn = getattr(err, "trailing_metadata", None)
    trailers = trailers_fn() if callable(trailers_fn) else None
    return any(key == SERVER_ERROR_KEY for key, _ in trailers or ())


# What gRPC says when the TLS settings of the two ends disagree (a server closes such a connection).
_TLS_TROUBLE = ("Socket closed", "andshake", "SSL")


def from_rpc_error(err: grpc.RpcError, server: str = "", tls_hint: str = "") -> IpamClientError:
    """Convert a gRPC error into the matching :class:`IpamClientError` subclass.

    ``server`` (the address the client dialled) is named in the message of UNAVAILABLE errors:
    "cannot reach IPAM server at ..." when the connection failed, "IPAM server at ..." when the
    server answered (e.g. its database is down).
    """
    code, details = status_of(err)
    answered = from_server(err) or code is not grpc.StatusCode.UNAVAILABLE
    if code is grpc.StatusCode.UNAVAILABLE and server:
        where = "IPAM server at" if answered else "cannot reach IPAM server at"
        details = f"{where} {server}: {details}"
    if not answered and tls_hint and any(sign in details for sign in _TLS_TROUBLE):
        details = f"{details} ({tls_hint})"
    return _BY_CODE.get(code, IpamClientError)(code, details, reached_server=answered)
