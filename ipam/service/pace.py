"""Pacing background work so that allocations keep the database's CPU."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine

from ipam.store import tx

T = TypeVar("T")


class Pace:
    """Runs transactions so that they take at most `duty` of the time: after each, it rests in
    proportion to how long that one took. Background work takes the CPU of one database
    connection while it works; on a busy database server that CPU is the allocations'."""

    def __init__(self, engine: Engine, duty: float, stop: threading.Event | None = None) -> None:
        self.engine = engine
        self.duty = duty
        self.stop = stop or threading.Event()  # set: the rest ends at once

    def run(self, work: Callable[[Connection], T]) -> T:
        started = time.monotonic()
        result = tx.run(self.engine, work)
        if self.duty < 1:
            self.stop.wait((time.monotonic() - started) * (1 - self.duty) / self.duty)
        return result
