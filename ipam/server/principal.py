"""Who the current call speaks for, set by the auth interceptor for the servicers' host checks.

Unset (None) when the server runs without --auth: then every call may act on every host.
"""

from __future__ import annotations

from contextvars import ContextVar

from ipam.domain.tokens import ADMIN, Principal

current: ContextVar[Principal | None] = ContextVar("ipam_principal", default=None)


def require_host(host: str, what: str) -> None:
    """PermissionDenied when the caller is an agent bound to another host than `host`."""
    principal = current.get()
    if principal is not None:
        principal.require_host(host, what)


def bound_host() -> str | None:
    """The only host the caller may act on, or None for any host."""
    principal = current.get()
    return principal.host if principal is not None and principal.role != ADMIN else None
