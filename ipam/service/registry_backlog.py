"""Catching the endpoint registry up on leases whose bookkeeping a garbage collection deferred
(migration 0008, ipam.store.registry_backlog): their holdings close and their endpoints end at
the time they were reclaimed, and watchers get the events, a few seconds late.

Every server runs a worker, woken by the delete trigger's NOTIFY (and every POLL_SECONDS in case
one was missed while the database was away). Workers take rows with SKIP LOCKED: replicas share
the backlog and each row is applied once. A row left by a server that stopped stays until a
worker takes it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from ipam.service.pace import Pace
from ipam.store import registry_backlog as backlog_store
from ipam.store import tx
from ipam.store.notify import run_woken

log = logging.getLogger("ipam.registry")

# The worker's share of time: the backlog can wait a few seconds, allocations should not.
DUTY = 0.5
POLL_SECONDS = 30.0


def catch_up(engine: Engine, duty: float = 1.0, stop: threading.Event | None = None) -> int:
    """Apply backlog rows until none is left (or `stop` is set); how many leases were caught up."""
    pace = Pace(engine, duty, stop)
    leases = 0
    while not pace.stop.is_set():
        applied = pace.run(backlog_store.catch_up_one)
        if applied is None:
            break
        leases += applied
    return leases


def pending(engine: Engine) -> tuple[int, int]:
    """(rows, leases) in the backlog."""
    return tx.run(engine, backlog_store.pending)


class CatchUpWorker:
    def __init__(self, engine: Engine, duty: float = DUTY, poll_seconds: float = POLL_SECONDS) -> None:
        self.engine = engine
        self.duty = duty
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="registry-catch-up", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        run_woken(self.engine, [backlog_store.CHANNEL], self._stop, self._step, self.poll_seconds, "registry")

    def _step(self) -> None:
        if leases := catch_up(self.engine, self.duty, self._stop):
            log.info("registry caught up on %d reclaimed leases", leases)
