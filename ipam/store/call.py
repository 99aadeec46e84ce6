"""The caller a transaction works for: its deadline, and a way to stop its running statement.

The server binds each RPC to a `Call` (see ipam.server.calls); `tx.run` reads it to give every
transaction a statement timeout no longer than the time the caller has left, and registers the
connection it is using, so that a caller who cancels (or a server that stops) also stops the
query on PostgreSQL instead of leaving it running there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from ipam.domain.errors import Cancelled
from ipam.scoped import scoped

CANCELLED = "the call was cancelled (by its caller, or the server is stopping)"
# Seconds a statement may run when the call has no shorter deadline (`ipam serve --statement-timeout`).
DEFAULT_STATEMENT_TIMEOUT = 30.0


class Call:
    def __init__(self, remaining_seconds: float | None) -> None:
        # time.monotonic() by which the caller stops waiting, or None (no deadline).
        self.deadline = None if remaining_seconds is None else time.monotonic() + remaining_seconds
        self.cancelled = False
        self._lock = threading.Lock()
        self._running: Any = None  # the psycopg connection running the caller's statements

    def expired(self) -> bool:
        # A little early: grpc ends the call by its own clock, a moment before ours may say so.
        return self.deadline is not None and time.monotonic() > self.deadline - 0.05

    def cancel(self) -> None:
        """Stop the running statement, if any; no later transaction of this call starts.
        Returns at once: grpc calls it on the thread that serves every call's events."""
        with self._lock:
            self.cancelled = True
            if self._running is None:
                return
        threading.Thread(target=self._cancel_running, name="ipam-cancel", daemon=True).start()

    def _cancel_running(self) -> None:
        import psycopg  # here, not at the top: `ipam serve --help` needs this module, not psycopg

        # The lock is held while sending: the connection cannot pass to its next user meanwhile.
        # With the database away, the statement timeout ends the statement instead.
        with self._lock, suppress(psycopg.Error):
            if self._running is not None:
                self._running.cancel_safe(timeout=5.0)

    @contextmanager
    def running(self, connection: Any) -> Iterator[None]:
        """`connection` runs this call's statements inside: cancel() stops them. Leaving waits
        for a cancel in progress, so it never reaches the connection's next user."""
        with self._lock:
            if self.cancelled:  # too late for cancel() to reach the statement about to start
                raise Cancelled(CANCELLED)
            self._running = connection
        try:
            yield
        finally:
            with self._lock:
                self._running = None


_current: ContextVar[Call | None] = ContextVar("ipam_call", default=None)


def current() -> Call | None:
    return _current.get()


@contextmanager
def bound(call: Call | None) -> Iterator[None]:
    """Transactions run inside work for `call` (None: for no caller, e.g. a batch of several)."""
    with scoped(_current, call):
        yield
