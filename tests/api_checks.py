"""Helpers shared by the API tests (tests/test_api_*.py), which talk to a real server over gRPC.

The `client` and `channel` fixtures they use live in conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
from sqlalchemy import Engine, text

from ipam_client import (
    AddressSpec,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    IpamClient,
    IpamClientError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
    pb,
)

# The status code each error the server answers with must carry.
CODES: dict[type[IpamClientError], grpc.StatusCode] = {
    InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    NotFound: grpc.StatusCode.NOT_FOUND,
    AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    Unavailable: grpc.StatusCode.UNAVAILABLE,
    OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
}


@contextmanager
def fails(error: type[IpamClientError], *fragments: str) -> Iterator[None]:
    """The block raises `error` (with its status code) and the message contains every fragment.

    Raw stub calls raise grpc.RpcError; it is converted the way the client converts it.
    """
    with pytest.raises((error, grpc.RpcError)) as info:
        yield
    caught = info.value
    raised = from_rpc_error(caught) if isinstance(caught, grpc.RpcError) else caught
    assert isinstance(raised, error), repr(raised)
    assert raised.code == CODES[error]
    for fragment in fragments:
        assert fragment in raised.message, f"{fragment!r} not in {raised.message!r}"


def pages(call: Callable[..., Any], request: Any, items: Callable[[Any], list[str]]) -> list[list[str]]:
    """Every page of a List call, as lists of item keys, following next_page_token."""
    found: list[list[str]] = []
    while True:
        reply = call(request, timeout=10)
        found.append(items(reply))
        if not reply.next_page_token:
            return found
        assert len(found) < 100, "the page tokens never end"
        request.page_token = reply.next_page_token


def allocate(
    client: IpamClient, owner: str, host: str = "h1", spec: AddressSpec | str = "p", interface: str = "eth0"
) -> pb.Lease:
    """Allocate one address to owner/interface on `host` and return its lease.

    `spec` is an AddressSpec or the name of a pool; by default pool "p", as the tests' fixtures name it.
    """
    if isinstance(spec, str):
        spec = AddressSpec(pool=spec)
    reply = client.allocate(host, owner, interface, [spec])
    assert len(reply.leases) == 1
    return reply.leases[0]


def count(engine: Engine, sql: str, **params: Any) -> int:
    """The single number a `SELECT count(*) ...` query answers, from the database."""
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def age_docker(engine: Engine, seconds: int) -> None:
    """Every lease and Docker network membership made `seconds` earlier (time passing, for GC)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE lease SET allocated_at = allocated_at - make_interval(secs => :s)"), {"s": seconds})
        conn.execute(
            text("UPDATE docker_network_host SET created_at = created_at - make_interval(secs => :s)"), {"s": seconds}
        )
