"""One PostgreSQL connection per engine that LISTENs for every background worker of the replica.

The event hub and the registry catch-up worker each wait for NOTIFY on their own channels; they
share one listener (`run_woken`), whose thread holds a dedicated autocommit connection (not one
of the pool's), LISTENs on the union of their channels and wakes each worker whose channel was
notified. When the connection is lost it reconnects, LISTENs again and wakes every worker: what
was notified meanwhile is read by their next step. The listener's thread ends with its last worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from sqlalchemy import Engine

from ipam.store.connections import LISTEN_SUFFIX
from ipam.store.engine import CONNECT_TIMEOUT_SECONDS, application_name

log = logging.getLogger(__name__)

STOP_CHECK_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


class Subscription:
    """A worker's share of the listener: `woken` is set when one of its channels was notified."""

    def __init__(self, channels: Iterable[str]) -> None:
        self.channels = frozenset(channels)
        self.woken = threading.Event()
        self.listening = threading.Event()  # its channels are LISTENed on (set once)

    def wait(self, stop: threading.Event, seconds: float) -> None:
        """Until a notification arrives, `stop` is set or `seconds` pass (`stop` is looked at every
        STOP_CHECK_SECONDS: a server stopping does not wait for a long poll)."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or self.woken.wait(min(left, STOP_CHECK_SECONDS)):
                break
        self.woken.clear()


class SharedListener:
    """The LISTEN connection of one engine and the thread that reads its notifications."""

    def __init__(self, engine: Engine) -> None:
        # The engine's own translation of its URL: a multi-host URL (host=a:5432&host=b:5432, for a
        # primary and its standbys) becomes libpq's host and port lists, target_session_attrs kept.
        _, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)  # the URL's own, when it has one
        params["application_name"] = application_name(str(engine.url)) + LISTEN_SUFFIX
        self._params: dict[str, Any] = dict(params)
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.append(subscription)

    def remove(self, subscription: Subscription) -> bool:
        """Whether it was the last one (the thread then ends)."""
        with self._lock:
            self._subscriptions.remove(subscription)
            self._closing = not self._subscriptions
            return self._closing

    def _run(self) -> None:
        while not self._closed():
            try:
                with psycopg.connect(**self._params, autocommit=True) as conn:
                    self._listen(conn, reconnected=True)
            except Exception as exc:
                log.warning("listener: %s; retrying", str(exc).strip().splitlines()[0] if str(exc) else exc)
                time.sleep(RECONNECT_SECONDS)

    def _listen(self, conn: psycopg.Connection[Any], *, reconnected: bool) -> None:
        listened: set[str] = set()
        while not self._closed():
            with self._lock:
                subscriptions = list(self._subscriptions)
            for channel in sorted(set().union(*(s.channels for s in subscriptions)) - listened):
                conn.execute(f"LISTEN {channel}")
                listened.add(channel)
            for subscription in subscriptions:
                if reconnected or not subscription.listening.is_set():
                    subscription.listening.set()
                    subscription.woken.set()  # what was notified while not listening: look now
            reconnected = False
            channels = {n.channel for n in conn.notifies(timeout=STOP_CHECK_SECONDS, stop_after=1)}
            if channels:
                channels |= {n.channel for n in conn.notifies(timeout=0.001)}
            for subscription in subscriptions:
                if subscription.channels & channels:
                    subscription.woken.set()

    def _closed(self) -> bool:
        with self._lock:
            return self._closing


_listeners: dict[Engine, SharedListener] = {}
_listeners_lock = threading.Lock()


def subscribe(engine: Engine, channels: Iterable[str]) -> Subscription:
    """Wake on NOTIFY on `channels`, through the engine's one listener (started if need be)."""
    subscription = Subscription(channels)
    with _listeners_lock:
        listener = _listeners.get(engine)
        started = listener is None
        if listener is None:
            listener = _listeners[engine] = SharedListener(engine)
        listener.add(subscription)
    if started:
        listener.start()
    return subscription


def unsubscribe(engine: Engine, subscription: Subscription) -> None:
    with _listeners_lock:
        listener = _listeners[engine]
        if listener.remove(subscription):
            del _listeners[engine]


def run_woken(
    engine: Engine,
    channels: Iterable[str],
    stop: threading.Event,
    step: Callable[[], None],
    poll_seconds: float,
    name: str,
) -> None:
    """Run `step` until `stop` is set: once the channels are listened on, then whenever a NOTIFY
    on `channels` arrives or `poll_seconds` pass (the poll covers notifications lost while
    reconnecting). A step that fails (the database away) is logged and tried again a second later."""
    subscription = subscribe(engine, channels)
    try:
        # A database away: step anyway after a while (and fail, and say so).
        started = time.monotonic()
        while not stop.is_set() and time.monotonic() - started < CONNECT_TIMEOUT_SECONDS:
            if subscription.listening.wait(STOP_CHECK_SECONDS):
                break
        while not stop.is_set():
            try:
                step()
            except Exception as exc:
                log.warning("%s: %s; retrying", name, str(exc).strip().splitlines()[0] if str(exc) else exc)
                stop.wait(RECONNECT_SECONDS)
                continue
            subscription.wait(stop, poll_seconds)
    finally:
        unsubscribe(engine, subscription)
