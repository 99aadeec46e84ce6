"""Verified tokens, remembered for a few seconds so that auth does not cost a query per call.

A revoked token stops working on this replica at once (RevokeToken forgets it here) and on
the others within TTL_SECONDS. Only successes are cached; the key is a hash of the token.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ipam.domain.errors import Unauthenticated
from ipam.domain.tokens import NOT_VALID, Principal, TokenRecord

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000

Authenticate = Callable[[str], tuple[Principal, TokenRecord]]


class TokenCache:
    def __init__(self, authenticate: Authenticate, ttl: float = TTL_SECONDS) -> None:
        self._authenticate = authenticate
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[bytes, tuple[float, Principal, TokenRecord]] = {}

    def verify(self, token: str) -> Principal:
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            if not entry[2].usable_at(datetime.now(UTC)):  # expired since it was cached
                raise Unauthenticated(NOT_VALID)
            return entry[1]
        principal, record = self._authenticate(token)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now + self._ttl, principal, record)
        return principal

    def forget(self, token_id: str) -> None:
        """Drop a token from the cache (after it is revoked here)."""
        with self._lock:
            for key in [k for k, (_, p, _r) in self._entries.items() if p.token_id == token_id]:
                del self._entries[key]
