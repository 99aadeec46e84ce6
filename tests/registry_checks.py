"""Helpers shared by the endpoint registry tests (tests/test_registry_*.py)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from sqlalchemy import Engine

from ipam.store import registry_backlog as backlog_store
from ipam.store import tx
from ipam_client import IpamClient, IpamClientError, registry_pb

# How long a test waits for an event that must come (a bound against hanging, not a measurement).
EVENT_WAIT_SECONDS = 30.0


class Watch:
    """A watch stream read by a background thread; `take(n)` returns the next n events."""

    def __init__(self, client: IpamClient, since: int | None, **filters: str) -> None:
        self._events: queue.Queue[registry_pb.EndpointEvent | BaseException] = queue.Queue()
        self._stream: Iterator[registry_pb.EndpointEvent] = client.watch_endpoints(since, **filters)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._stream:
                self._events.put(event)
        except (IpamClientError, ValueError) as exc:  # ValueError: the client was closed under it
            self._events.put(exc)

    def take(self, n: int) -> list[registry_pb.EndpointEvent]:
        taken = []
        for _ in range(n):
            item = self._events.get(timeout=EVENT_WAIT_SECONDS)
            if isinstance(item, BaseException):
                raise item
            taken.append(item)
        return taken

    def pending(self) -> int:
        return self._events.qsize()


def kinds(events: list[registry_pb.EndpointEvent]) -> list[tuple[str, str]]:
    """(owner_id, type) of each event, e.g. ("c1", "added")."""
    names = {
        registry_pb.ENDPOINT_EVENT_TYPE_ADDED: "added",
        registry_pb.ENDPOINT_EVENT_TYPE_UPDATED: "updated",
        registry_pb.ENDPOINT_EVENT_TYPE_REMOVED: "removed",
    }
    return [(e.endpoint.owner_id, names[e.type]) for e in events]


def assert_consecutive(events: list[registry_pb.EndpointEvent], after: int) -> None:
    """Revisions after+1, after+2, ... with no gap and no repeat."""
    assert [e.revision for e in events] == list(range(after + 1, after + 1 + len(events)))


def head_revision(client: IpamClient) -> int:
    return client.list_endpoints_page(registry_pb.ListEndpointsRequest(page_size=1)).revision


def caught_up(engine: Engine) -> None:
    """Wait until the servers' workers have applied the registry backlog (migration 0008)."""
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while tx.run(engine, backlog_store.pending) != (0, 0):
        assert time.monotonic() < deadline, "the registry backlog was not applied in time"
        time.sleep(0.05)
