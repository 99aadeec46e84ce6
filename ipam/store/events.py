"""SQL for the event log: numbering committed events, reading them in order, pruning them.

Writers (the lease triggers, endpoint registration) insert events with revision NULL. A
revision taken from a sequence inside concurrent writer transactions would not be commit order
(5 may commit before 4, and a watcher past 5 would miss 4 forever). Instead `sequence` numbers
events only once they are committed, holding the lock of the one `event_sequencer` row, so
sequencer runs follow each other: every revision a reader can see is final, and the revisions
it sees are always 1..N with no hole.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ipam.store.sql import Sql, run

SEQUENCED_CHANNEL = "ipam_events"  # payload: the newest revision
PENDING_CHANNEL = "ipam_event_pending"  # sent by ipam_record_events() at the writer's commit
_PRUNE_LOCK = 0x1BA4E7  # advisory lock: one replica prunes at a time

_ANY_PENDING = Sql("SELECT EXISTS (SELECT 1 FROM event WHERE revision IS NULL)")
_LOCK_HEAD = Sql("SELECT last_revision FROM event_sequencer WHERE id = 1 FOR UPDATE")
_CREATE_HEAD = Sql("INSERT INTO event_sequencer (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
# A statement of its own after _LOCK_HEAD: its snapshot sees everything the previous sequencer committed.
_NUMBER = Sql(
    "WITH pending AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM event "
    " WHERE revision IS NULL ORDER BY id LIMIT :batch), "
    "numbered AS (UPDATE event e SET revision = :last + p.n FROM pending p WHERE e.id = p.id RETURNING e.revision) "
    "UPDATE event_sequencer SET last_revision = coalesce((SELECT max(revision) FROM numbered), last_revision) "
    "WHERE id = 1 RETURNING last_revision"
)
_NOTIFY = Sql("SELECT pg_notify(:channel, CAST(:revision AS text))")
_BOUNDS = Sql(
    "SELECT coalesce(max(pruned_through), 0) AS pruned_through, coalesce(max(last_revision), 0) AS last_revision "
    "FROM event_sequencer"
)
_AFTER = Sql("SELECT revision, kind, at, endpoint FROM event WHERE revision > :cursor ORDER BY revision LIMIT :limit")
_TRY_PRUNE_LOCK = Sql(f"SELECT pg_try_advisory_xact_lock({_PRUNE_LOCK})")
# Only a prefix of the log goes (every revision up to pruned_through is gone, every later one kept).
_PRUNE_EVENTS = Sql(
    "WITH oldest AS (SELECT revision, bool_and(at < :cutoff) OVER (ORDER BY revision) AS old FROM ("
    " SELECT revision, at FROM event WHERE revision IS NOT NULL ORDER BY revision LIMIT :batch) s), "
    "gone AS (DELETE FROM event WHERE revision <= (SELECT max(revision) FROM oldest WHERE old) RETURNING revision) "
    "SELECT count(*) AS n, max(revision) AS upto FROM gone"
)
_SET_PRUNED = Sql("UPDATE event_sequencer SET pruned_through = greatest(pruned_through, :upto) WHERE id = 1")
_PRUNE_HISTORY = Sql(
    "DELETE FROM address_history WHERE id IN (SELECT id FROM address_history "
    " WHERE held_until IS NOT NULL AND held_until < :cutoff LIMIT :batch)"
)
_PRUNE_ENDPOINTS = Sql(
    "DELETE FROM endpoint e WHERE e.id IN (SELECT id FROM endpoint WHERE state = 'deleted' AND deleted_at < :cutoff "
    " LIMIT :batch) AND NOT EXISTS (SELECT 1 FROM address_history a WHERE a.endpoint_id = e.id)"
)


def sequence(conn: Connection, batch: int = 10000) -> tuple[int, int]:
    """Number up to `batch` committed events; (newest revision, how many were numbered now),
    or (0, 0) when none is waiting.

    Tells every server (SEQUENCED_CHANNEL) when it numbered any.
    """
    if not run(conn, _ANY_PENDING).scalar():  # the usual case when idle: no write, no lock
        return 0, 0
    last = run(conn, _LOCK_HEAD).scalar()
    if last is None:  # a fresh or emptied database
        run(conn, _CREATE_HEAD)
        last = run(conn, _LOCK_HEAD).scalar_one()
    head = int(run(conn, _NUMBER, {"batch": batch, "last": int(last)}).scalar_one())
    if head > last:
        run(conn, _NOTIFY, {"channel": SEQUENCED_CHANNEL, "revision": head})
    return head, head - last


def bounds(conn: Connection) -> tuple[int, int]:
    """(last revision pruned, newest revision): revisions in between are all in the log."""
    row = run(conn, _BOUNDS).one()
    return int(row.pruned_through), int(row.last_revision)


def after(conn: Connection, cursor: int, limit: int) -> list[Any]:
    """Events with a revision greater than `cursor`, oldest first (revision, kind, at, endpoint doc)."""
    return list(run(conn, _AFTER, {"cursor": cursor, "limit": limit}))


def prune(conn: Connection, cutoff: datetime, batch: int = 10000) -> int | None:
    """Delete up to `batch` events, ended holdings and deleted endpoints older than `cutoff`.

    None when another replica is pruning; else how many events went.
    """
    if not run(conn, _TRY_PRUNE_LOCK).scalar():
        return None
    params = {"cutoff": cutoff, "batch": batch}
    pruned = run(conn, _PRUNE_EVENTS, params).one()
    if pruned.upto is not None:
        run(conn, _SET_PRUNED, {"upto": pruned.upto})
    run(conn, _PRUNE_HISTORY, params)
    run(conn, _PRUNE_ENDPOINTS, params)
    return int(pruned.n)
