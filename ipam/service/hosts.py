"""Use cases for hosts: registration (the heartbeat), reads, drain. Deletion: ipam.service.gc."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ipam.domain import liveness, validate
from ipam.domain.errors import InvalidArgument
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import HostRecord, Page
from ipam.service.coalesce import Coalescer
from ipam.store import call as calls
from ipam.store import hosts as host_store
from ipam.store import tx

# Heartbeats written in one statement at most; a fleet's agents beat every few seconds each.
HEARTBEAT_BATCH = 256


@dataclass(frozen=True)
class Registration:
    name: str
    labels: dict[str, str]
    ttl: int | None  # None: keep the host's (or the default, for a new host)


class Heartbeats:
    """Registration for a server: heartbeats that arrive while one is being written are written
    together after it, in one statement and one transaction (group commit, ipam.service.coalesce).
    Each caller is answered once that transaction committed, with its own host's record; a lone
    heartbeat is written at once, on its own."""

    def __init__(self, engine: Engine, grace_seconds: int, max_batch: int = HEARTBEAT_BATCH) -> None:
        self.engine = engine
        self.grace_seconds = grace_seconds
        self._batches: Coalescer[int, Registration, HostRecord] = Coalescer(self._register, max_batch)

    def register(self, name: str, labels: dict[str, str], ttl_seconds: int) -> HostRecord:
        """Create the host or mark it seen (a heartbeat); `ttl_seconds` 0 = the default TTL."""
        validate.name("name", name)
        validate.labels("labels", labels)
        ttl = liveness.heartbeat_ttl("heartbeat_ttl_seconds", ttl_seconds)
        return self._batches.submit(self.grace_seconds, Registration(name, labels, ttl))

    def _register(self, grace: int, batch: Sequence[Registration]) -> Sequence[HostRecord | BaseException]:
        if len(batch) == 1:  # the leader's own, under its deadline
            return [self._register_alone(grace, batch[0])]
        # A batch serves several callers: one of them cancelling or timing out must not stop it.
        with calls.bound(None):
            try:
                return tx.run(self.engine, lambda conn: _register_together(conn, batch, grace))
            except InvalidArgument:  # a value one of them sent: each on its own, each with its own answer
                return [self._register_alone(grace, one) for one in batch]

    def _register_alone(self, grace: int, one: Registration) -> HostRecord | BaseException:
        def work(conn: Connection) -> HostRecord:
            return host_store.upsert_host(conn, one.name, one.labels, one.ttl, grace)

        try:
            return tx.run(self.engine, work)
        except InvalidArgument as exc:
            return exc


def _register_together(conn: Connection, batch: Sequence[Registration], grace: int) -> list[HostRecord]:
    """One statement per round of distinct names (the same host twice in a batch: the later one in
    a second round, as if it had come after); each registration gets its own round's record."""
    answers: list[HostRecord | None] = [None] * len(batch)
    left = list(range(len(batch)))
    while left:
        names: set[str] = set()
        round_: list[int] = []
        later: list[int] = []
        for i in left:
            (later if batch[i].name in names else round_).append(i)
            names.add(batch[i].name)
        hosts = [(batch[i].name, batch[i].labels, batch[i].ttl) for i in round_]
        records = host_store.upsert_hosts(conn, hosts, grace)
        for i in round_:
            answers[i] = records[batch[i].name]
        left = later
    return [answer for answer in answers if answer is not None]


def register_host(
    engine: Engine, name: str, labels: dict[str, str], ttl_seconds: int, grace_seconds: int
) -> HostRecord:
    """Create the host or mark it seen (a heartbeat) on its own; `ttl_seconds` 0 = the default TTL."""
    validate.name("name", name)
    validate.labels("labels", labels)
    ttl = liveness.heartbeat_ttl("heartbeat_ttl_seconds", ttl_seconds)
    return tx.run(engine, lambda conn: host_store.upsert_host(conn, name, labels, ttl, grace_seconds))


def get_host(engine: Engine, name: str, grace_seconds: int) -> HostRecord:
    validate.name("name", name)
    return tx.run(engine, lambda conn: host_store.get_host(conn, name, grace_seconds))


def list_hosts(engine: Engine, page_size: int, page_token: str, grace_seconds: int) -> Page[HostRecord]:
    page = page_request(page_size, page_token, kind="Hosts")
    rows = tx.run(engine, lambda conn: host_store.list_hosts(conn, page, grace_seconds))
    return page_of(rows, page, "Hosts", lambda h: h.name)


def set_drained(engine: Engine, name: str, drained: bool, grace_seconds: int) -> HostRecord:
    """Drain (no new allocations; what the host holds stays) or undrain the host."""
    validate.name("name", name)
    return tx.run(engine, lambda conn: host_store.set_drained(conn, name, drained, grace_seconds))
