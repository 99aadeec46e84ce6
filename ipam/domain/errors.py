"""Domain errors. The server maps each class to one gRPC status code in one place."""

from __future__ import annotations


class IpamError(Exception):
    """Base of every error meant for the caller; the message is shown to people as is."""


class InvalidArgument(IpamError):
    """The request itself is wrong (bad CIDR, out-of-range number, empty name...)."""


class NotFound(IpamError):
    """A named space, pool, host, subnet or lease does not exist."""


class AlreadyExists(IpamError):
    """A duplicate name, an overlapping CIDR, an address already taken."""


class FailedPrecondition(IpamError):
    """The request is valid but the system is not in a state that allows it."""


class ResourceExhausted(IpamError):
    """A pool or a host's subnets are full."""


class Busy(IpamError):
    """Someone else is doing this right now (e.g. garbage collection on another replica)."""


class OutOfRange(IpamError):
    """A position outside what is kept, e.g. a watch resumed from a revision already pruned."""


class DeadlineExceeded(IpamError):
    """The caller's deadline (or the server's statement timeout) passed before the work ended."""


class Cancelled(IpamError):
    """The caller cancelled the call, or the server stopped during it; its work was stopped."""


class Interrupted(IpamError):
    """A database administrator cancelled or terminated the statement: not run again by itself."""


class Unavailable(IpamError):
    """The database cannot be reached; the caller may retry."""


class Overloaded(Unavailable):
    """Every database connection of this server stayed busy past the wait; the caller may retry."""


class Unauthenticated(IpamError):
    """No credentials, malformed ones, or ones that are not valid (never says which)."""


class PermissionDenied(IpamError):
    """The caller is known but its role or host binding does not allow this request."""
