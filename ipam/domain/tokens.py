"""API tokens: their text form `ipam_<id>_<secret>`, roles, and who a verified token speaks for.

Only a SHA-256 of the secret is stored: the secret is 256 random bits, so a plain hash cannot be
brute-forced and needs no salt or slow KDF. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from ipam.domain.errors import InvalidArgument, PermissionDenied, Unauthenticated

ADMIN = "admin"
AGENT = "agent"
READER = "reader"
ROLES = (ADMIN, AGENT, READER)
PREFIX = "ipam"
ID_HEX_LENGTH = 16
SECRET_HEX_LENGTH = 64
_TOKEN = re.compile(rf"{PREFIX}_([0-9a-f]{{{ID_HEX_LENGTH}}})_([0-9a-f]{{{SECRET_HEX_LENGTH}}})")

# One message for unknown, wrong, revoked and expired tokens: a caller cannot tell them apart.
NOT_VALID = "the token is not valid (it may be unknown, revoked or expired)"
MALFORMED = f"malformed token: expected {PREFIX}_<16 hex digits>_<64 hex digits>"


@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    role: str
    host: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True)
class Principal:
    """Who a call speaks for: the token's name, role and, for agents, the one host it may act on."""

    token_id: str
    name: str
    role: str
    host: str | None

    def require_host(self, host: str, what: str) -> None:
        """PermissionDenied unless this principal may act on `host` (admins may act on any)."""
        if self.role != ADMIN and self.host != host:
            raise PermissionDenied(f'token "{self.name}" is bound to host "{self.host}"; it may not {what}')


def format_token(token_id: str, secret: str) -> str:
    return f"{PREFIX}_{token_id}_{secret}"


def parse_token(text: str) -> tuple[str, str]:
    """(id, secret) of a token's text form; Unauthenticated(MALFORMED) otherwise."""
    match = _TOKEN.fullmatch(text)
    if match is None:
        raise Unauthenticated(MALFORMED)
    return match.group(1), match.group(2)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def secret_matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def check_role(role: str, host: str | None) -> None:
    """An agent token names exactly one host; other roles name none."""
    if role not in ROLES:
        raise InvalidArgument(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if role == AGENT and not host:
        raise InvalidArgument("host: an agent token is bound to one host; name it")
    if role != AGENT and host:
        raise InvalidArgument(f"host: only agent tokens are bound to a host, not {role} tokens")
