"""A dedicated PostgreSQL connection that LISTENs, for waking up on NOTIFY from any replica."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import psycopg
from sqlalchemy import Engine

from ipam.store.engine import CONNECT_TIMEOUT_SECONDS

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.5


class Listener:
    """LISTEN on `channels` over its own autocommit connection (not one of the engine's pool)."""

    def __init__(self, engine: Engine, channels: Iterable[str]) -> None:
        # The engine's own translation of its URL: a multi-host URL (host=a:5432&host=b:5432, for a
        # primary and its standbys) becomes libpq's host and port lists, target_session_attrs kept.
        _, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)  # the URL's own, when it has one
        params["application_name"] = "ipam-listen"
        self._conn = psycopg.connect(**params, autocommit=True)
        for channel in channels:
            self._conn.execute(f"LISTEN {channel}")

    def wait(self, timeout: float) -> set[str]:
        """The channels notified: waits up to `timeout` seconds for the first, then takes what is queued."""
        channels = {n.channel for n in self._conn.notifies(timeout=timeout, stop_after=1)}
        if channels:
            channels |= {n.channel for n in self._conn.notifies(timeout=0.001)}
        return channels

    def close(self) -> None:
        self._conn.close()


def run_woken(
    engine: Engine,
    channels: Iterable[str],
    stop: threading.Event,
    step: Callable[[], None],
    poll_seconds: float,
    name: str,
) -> None:
    """Run `step` until `stop` is set: at once, then whenever a NOTIFY on `channels` arrives or
    `poll_seconds` pass (the poll covers notifications lost while reconnecting). A database away
    is logged and tried again a second later."""
    while not stop.is_set():
        listener: Listener | None = None
        try:
            listener = Listener(engine, channels)
            while not stop.is_set():
                step()
                _wait(listener, stop, poll_seconds)
        except Exception as exc:
            log.warning("%s: %s; retrying", name, str(exc).strip().splitlines()[0] if str(exc) else exc)
            stop.wait(1.0)
        finally:
            if listener is not None:
                listener.close()


def _wait(listener: Listener, stop: threading.Event, seconds: float) -> None:
    """Until a notification arrives, `stop` is set or `seconds` pass (`stop` is looked at every
    STOP_CHECK_SECONDS: a server stopping does not wait for a long poll)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or listener.wait(min(left, STOP_CHECK_SECONDS)):
            return
