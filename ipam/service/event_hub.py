"""One per server process: numbers committed events, follows the event log, and feeds watchers.

When a transaction of this process that wrote events commits (ipam.store.tx.commit_observers),
a background thread runs the sequencer (ipam.store.events.sequence; any replica may, they take
turns on a row lock), at most a few times per fan-out window; commits that arrive meanwhile are
numbered by its next run, or by the hub just before it reads the next batch. Writers do not
NOTIFY (that would make all their commits take turns, see migration 0010): events written by
another process are numbered by a short poll. Another background thread LISTENs on a connection
of its own: when any replica has numbered events (NOTIFY with the new revision) it reads them
from the database once and keeps the most recent ones for its watchers. A short poll covers
notifications lost while reconnecting. Watchers thus always get what the DATABASE holds, in
revision order; one further behind than the kept window reads the database itself.
It also prunes the log past the retention period (one replica at a time: an advisory lock).

Watch streams are coroutines on the server's event loop: the hub wakes them with one asyncio
event each per batch, a slice of streams at a time, paced and within half the fan-out window
(a fleet's messages at once would starve the calls meanwhile), and renders each event once
(`render`, on the hub's thread), so that a stream that is up to date sends the batch's bytes as
they are, shared with every other stream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Engine

from ipam.domain.errors import OutOfRange, ResourceExhausted
from ipam.domain.records import EndpointEvent
from ipam.service.watch_filter import BatchMatches, WatchView
from ipam.store import events as event_store
from ipam.store import tx
from ipam.store.endpoints import endpoint_of
from ipam.store.notify import run_woken

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=30)
POLL_SECONDS = 0.5
PRUNE_EVERY_SECONDS = 60.0
READ_BATCH = 1000
# Stream messages a second the hub aims to stay under (see EventHub._fan_out_window), and the
# bounds of the wait between batches: what it adds to an event's delivery time.
FAN_OUT_MESSAGES_PER_SECOND = 2000
MIN_FAN_OUT_WINDOW = 0.02
MAX_FAN_OUT_WINDOW = 1.0
# Streams woken at once, the pace of a batch's messages, and the part of the fan-out window a
# batch's slices take at most (see EventHub._wake_gap).
WAKE_SLICE = 25
FAN_OUT_PACE = 2 * FAN_OUT_MESSAGES_PER_SECOND
FAN_OUT_SPREAD = 0.5
# How often, at most, the sequencer runs in a fan-out window (see EventHub._sequence_committed).
SEQUENCES_PER_WINDOW = 4
# A quiet filtered stream costs a batch about a tenth of what a message on a stream does.
FILTERED_STREAM_COST = 10

# One event as a watch stream sends it (the server's wire encoding; opaque here).
Render = Callable[[EndpointEvent], bytes]


class Subscription:
    """One watch stream's place in the hub: woken (on the event loop) by the batches that may
    concern it."""

    def __init__(self, view: WatchView | None, cursor: int) -> None:
        self.view = view
        self.cursor = cursor  # the revision the stream has sent (or skipped) everything up to
        self.woken = asyncio.Event()


@dataclass(frozen=True)
class Chunk:
    """Consecutive events after a cursor, rendered: `payload` is their renderings joined."""

    events: Sequence[EndpointEvent]
    rendered: Sequence[bytes]
    payload: bytes

    @property
    def last(self) -> int:
        return self.events[-1].revision

    @cached_property
    def endpoint_ids(self) -> frozenset[int]:
        return frozenset(event.endpoint.id for event in self.events)


class EventHub:
    def __init__(
        self,
        engine: Engine,
        render: Render,
        *,
        retention: timedelta = DEFAULT_RETENTION,
        poll_seconds: float = POLL_SECONDS,
        prune_every_seconds: float = PRUNE_EVERY_SECONDS,
        keep: int = 20000,
        max_watchers: int = 20000,
    ) -> None:
        self.engine = engine
        self.render = render
        self.retention = retention
        self.max_watchers = max_watchers
        self._poll = poll_seconds
        # A short retention (tests, demos) is kept to within half of itself.
        self._prune_every = min(prune_every_seconds, retention.total_seconds() / 2)
        self._keep = keep
        self._lock = threading.Lock()
        self._recent: list[EndpointEvent] = []  # consecutive revisions, the newest last
        self._rendered: list[bytes] = []  # render() of each of _recent
        self._newest: Chunk | None = None  # the last batch read: what an up-to-date stream sends
        self._loop: asyncio.AbstractEventLoop | None = None
        # The streams' subscriptions by filters (None: unfiltered), used on the event loop only.
        self._subscriptions: dict[Hashable, set[Subscription]] = {}
        self._broadcast = 0  # unfiltered streams: each batch is a message on each of them
        self.matches = BatchMatches()  # on the event loop only
        self._published_at = 0.0  # time.monotonic() of the last batch
        self._head: int | None = None  # newest revision read from the database
        self._watchers = 0
        self._next_prune = time.monotonic()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
        self._committed = threading.Event()  # this process committed events not numbered yet
        self._sequencer = threading.Thread(target=self._sequence_committed, name="event-sequencer", daemon=True)

    def start(self) -> None:
        tx.commit_observers.append(self._committed.set)
        self._sequencer.start()
        self._thread.start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wake the watch coroutines of `loop` (the server's) when events arrive."""
        self._loop = loop

    def stop(self) -> None:
        self._stopping.set()
        if self._committed.set in tx.commit_observers:
            tx.commit_observers.remove(self._committed.set)
        self._committed.set()
        self._wake_watchers()
        self._sequencer.join(timeout=10)
        self._thread.join(timeout=10)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # -- for watchers -----------------------------------------------------------------------

    @contextmanager
    def watching(self, cursor: int, view: WatchView | None = None) -> Iterator[Subscription]:
        """A stream's subscription for the block (RESOURCE_EXHAUSTED past max_watchers), on the
        event loop, from revision `cursor` on. A filtered stream (`view`) is woken only by the
        batches that may concern it."""
        subscription = Subscription(view, cursor)
        group = None if view is None else view.key
        with self._lock:
            if self._watchers >= self.max_watchers:
                raise ResourceExhausted(f"this server already serves {self.max_watchers} watch streams; try another")
            self._watchers += 1
            if view is None:
                self._broadcast += 1
        self._subscriptions.setdefault(group, set()).add(subscription)
        try:
            yield subscription
        finally:
            members = self._subscriptions[group]
            members.discard(subscription)
            if not members:
                del self._subscriptions[group]
            with self._lock:
                self._watchers -= 1
                if view is None:
                    self._broadcast -= 1

    def events_after(self, cursor: int, limit: int = READ_BATCH) -> list[EndpointEvent]:
        """Up to `limit` events after revision `cursor`, in order and with no gap."""
        with self._lock:
            recent = self._recent
            if recent and recent[0].revision <= cursor + 1:
                start = cursor + 1 - recent[0].revision
                return recent[start : start + limit]
        found = tx.run(self.engine, lambda conn: _read(conn, cursor, limit))
        if found and found[0].revision != cursor + 1:
            raise OutOfRange(
                f"changes after revision {cursor} were pruned while this watch was behind; "
                "list the endpoints again and watch from the revision the list returns"
            )
        return found

    def chunk_after(self, cursor: int, limit: int = READ_BATCH) -> Chunk | None:
        """What a stream at `cursor` sends next, when the kept window has it (no I/O: called on
        the event loop); an empty chunk when nothing is newer, None when the stream is behind the
        window (then `read_chunk_after`, on a thread)."""
        with self._lock:
            newest = self._newest
            if newest is not None and newest.events[0].revision == cursor + 1 and len(newest.events) <= limit:
                return newest
            recent = self._recent
            if self._head is not None and cursor >= self._head:
                return Chunk((), (), b"")
            if not recent or recent[0].revision > cursor + 1 or cursor >= recent[-1].revision:
                return None
            start = cursor + 1 - recent[0].revision
            events = recent[start : start + limit]
            rendered = self._rendered[start : start + limit]
        return Chunk(events, rendered, b"".join(rendered))

    def read_chunk_after(self, cursor: int, limit: int = READ_BATCH) -> Chunk:
        """`chunk_after` for a stream behind the window: reads the database (blocking)."""
        events = self.events_after(cursor, limit)
        rendered = [self.render(event) for event in events]
        return Chunk(events, rendered, b"".join(rendered))

    async def wait(self, subscription: Subscription) -> None:
        """Return once a batch that may concern the subscription has come (or the hub stops)."""
        if not self._stopping.is_set():
            await subscription.woken.wait()
        subscription.woken.clear()

    def _wake_watchers(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with suppress(RuntimeError):  # the loop closed meanwhile: no watcher is left to wake
                self._loop.call_soon_threadsafe(self._set_woken)

    def _set_woken(self) -> None:
        """Wake the streams the newest batch may concern (on the event loop). A filtered stream
        that is up to date and that no event of the batch concerns (none matches its filters,
        none is of an endpoint it shows) is moved past the batch instead, asleep."""
        newest = self._newest
        woken: list[Subscription] = []
        for group, members in self._subscriptions.items():
            if (
                group is None
                or newest is None
                or self._stopping.is_set()
                or self.matches.any_match(next(iter(members)).view, newest.events)  # type: ignore[arg-type]
            ):
                woken.extend(members)
                continue
            before, ids = newest.events[0].revision - 1, newest.endpoint_ids
            for subscription in members:
                shown = subscription.view.matching  # type: ignore[union-attr]
                if subscription.cursor == before and not (shown and not shown.isdisjoint(ids)):
                    subscription.cursor = newest.last
                else:
                    woken.append(subscription)
        self._wake_in_slices(woken, 0, 0.0 if self._stopping.is_set() else self._wake_gap(len(woken)))

    def _wake_gap(self, woken: int) -> float:
        """Seconds between two slices of a batch's streams: FAN_OUT_PACE messages a second, the
        whole batch within FAN_OUT_SPREAD of the window (so that batches do not overlap)."""
        slices = max(1, -(-woken // WAKE_SLICE))
        return min(WAKE_SLICE / FAN_OUT_PACE, self._fan_out_window() * FAN_OUT_SPREAD / slices)

    def _wake_in_slices(self, woken: list[Subscription], start: int, gap: float) -> None:
        """Wake WAKE_SLICE streams now and the next ones `gap` seconds later: each woken stream
        sends a message, and a batch's messages to a fleet all at once would take the CPU from
        the calls that arrive meanwhile (an Allocate waits for its transaction)."""
        for subscription in woken[start : start + WAKE_SLICE]:
            subscription.woken.set()
        if start + WAKE_SLICE < len(woken) and self._loop is not None:
            self._loop.call_later(gap, self._wake_in_slices, woken, start + WAKE_SLICE, gap)

    # -- the background thread --------------------------------------------------------------

    def _run(self) -> None:
        channels = [event_store.PENDING_CHANNEL, event_store.SEQUENCED_CHANNEL]
        run_woken(self.engine, channels, self._stopping, self._step, self._poll, "event hub")

    def _sequence_committed(self) -> None:
        """Number what this process's writers committed, soon after each commit."""
        while True:
            self._committed.wait()
            if self._stopping.is_set():
                return
            self._committed.clear()
            try:
                self._sequence()
            except Exception as exc:  # the poll numbers them once the database is back
                log.warning("event sequencer: %s", str(exc).strip().splitlines()[0] if str(exc) else exc)
                self._stopping.wait(1.0)
            # Watchers get batches a fan-out window apart: numbering more often than a few times
            # per window only takes pooled connections from the callers.
            self._stopping.wait(self._fan_out_window() / SEQUENCES_PER_WINDOW)

    def _step(self) -> None:
        # Numbered just before they are read: what this process committed during the window
        # goes out with this batch, whenever the sequencer thread last ran.
        self._stopping.wait(self._published_at + self._fan_out_window() - time.monotonic())
        self._sequence()
        self._follow()
        if time.monotonic() >= self._next_prune:
            self._prune()
            self._next_prune = time.monotonic() + self._prune_every

    def _fan_out_window(self) -> float:
        """How long after one batch the next may go out. Every batch is a message on every
        stream, and the server sends only so many messages a second: with more streams, batches
        come less often (and are bigger), up to MAX_FAN_OUT_WINDOW apart."""
        streams = self._broadcast + (self._watchers - self._broadcast) / FILTERED_STREAM_COST
        return min(MAX_FAN_OUT_WINDOW, max(MIN_FAN_OUT_WINDOW, streams / FAN_OUT_MESSAGES_PER_SECOND))

    def _sequence(self) -> None:
        while True:
            _, numbered = tx.run(self.engine, event_store.sequence)
            if numbered < event_store.SEQUENCE_BATCH:
                return

    def _follow(self) -> None:
        """Read what was numbered since the last look and wake the watchers. With none, only the
        newest revision is noted: decoding events nobody waits for would take the server's CPU
        from its callers (a collection may write 100,000 of them at once)."""
        if self._head is None or not self._watchers:
            head = tx.run(self.engine, event_store.bounds)[1]
            with self._lock:
                if not self._watchers:
                    self._recent, self._rendered = [], []  # a new watcher reads the database until caught up
                    self._newest = None
                    self._head = head
                    return
                self._head = self._head if self._head is not None else head
        while True:
            found = tx.run(self.engine, lambda conn: _read(conn, self._head or 0, READ_BATCH))
            if not found:
                return
            rendered = [self.render(event) for event in found]  # once, for every stream
            with self._lock:
                if self._recent and found[0].revision != self._recent[-1].revision + 1:
                    self._recent, self._rendered = [], []  # a hole (the log was emptied): start afresh
                self._recent.extend(found)
                self._rendered.extend(rendered)
                if len(self._recent) > 2 * self._keep:
                    self._recent = self._recent[-self._keep :]
                    self._rendered = self._rendered[-self._keep :]
                self._newest = Chunk(found, rendered, b"".join(rendered))
                self._published_at = time.monotonic()
                self._head = found[-1].revision
            self._wake_watchers()
            if len(found) < READ_BATCH:
                return

    def _prune(self) -> None:
        cutoff = datetime.now(UTC) - self.retention
        while (pruned := tx.run(self.engine, lambda conn: event_store.prune(conn, cutoff))) is not None:
            if pruned:
                log.info("pruned %d events older than %s", pruned, cutoff.isoformat(timespec="seconds"))
            if pruned < 10000:
                return


def _read(conn: Any, cursor: int, limit: int) -> list[EndpointEvent]:
    return [
        EndpointEvent(row.revision, row.kind, row.at, endpoint_of(row.endpoint))
        for row in event_store.after(conn, cursor, limit)
    ]
