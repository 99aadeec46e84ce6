"""Who the current call speaks for: set by the auth interceptor, read by the servicers' host
checks and by the access log.

No principal when the server runs without --auth: then every call may act on every host.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ipam.domain.tokens import ADMIN, Principal
from ipam.scoped import scoped


@dataclass
class Call:
    principal: Principal | None = None


_call: ContextVar[Call | None] = ContextVar("ipam_call", default=None)


@contextmanager
def call_scope() -> Iterator[Call]:
    """The state of the call running on this thread; nested scopes share the outermost one."""
    existing = _call.get()
    if existing is not None:
        yield existing
        return
    call = Call()
    with scoped(_call, call):
        yield call


def current() -> Principal | None:
    call = _call.get()
    return call.principal if call is not None else None


def require_host(host: str, what: str) -> None:
    """PermissionDenied when the caller is an agent bound to another host than `host`."""
    principal = current()
    if principal is not None:
        principal.require_host(host, what)


def bound_host() -> str | None:
    """The only host the caller may act on, or None for any host."""
    principal = current()
    return principal.host if principal is not None and principal.role != ADMIN else None
