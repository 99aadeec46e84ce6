"""SQL for the event log: numbering committed events, reading them in order, pruning them.

Writers (the lease triggers, endpoint registration) insert events with revision NULL, in rows of
up to 1,000 events of one statement (migration 0007). A revision taken from a sequence inside
concurrent writer transactions would not be commit order (5 may commit before 4, and a watcher
past 5 would miss 4 forever). Instead `sequence` numbers rows only once they are committed,
holding the lock of the one `event_sequencer` row, so sequencer runs follow each other: every
revision a reader can see is final, and the revisions it sees are always 1..N with no hole. A
row numbered `revision` holds the events revision .. revision + size - 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ipam.store.sql import Sql, run

SEQUENCED_CHANNEL = "ipam_events"  # payload: the newest revision
PENDING_CHANNEL = "ipam_event_pending"  # sent by ipam_record_events() at the writer's commit
_PRUNE_LOCK = 0x1BA4E7  # advisory lock: one replica prunes at a time
SEQUENCE_BATCH = 1000  # rows numbered per transaction
ROW_EVENTS = 1000  # events in one row at most (ipam_record_events, migration 0007)

_ANY_PENDING = Sql("SELECT EXISTS (SELECT 1 FROM event WHERE revision IS NULL)")
_LOCK_HEAD = Sql("SELECT last_revision FROM event_sequencer WHERE id = 1 FOR UPDATE")
_CREATE_HEAD = Sql("INSERT INTO event_sequencer (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
# A statement of its own after _LOCK_HEAD: its snapshot sees everything the previous sequencer committed.
_NUMBER = Sql(
    "WITH pending AS (SELECT id, size, sum(size) OVER (ORDER BY id) AS upto FROM event "
    " WHERE revision IS NULL ORDER BY id LIMIT :batch), "
    "numbered AS (UPDATE event e SET revision = :last + p.upto - p.size + 1 FROM pending p WHERE e.id = p.id "
    " RETURNING e.revision + e.size - 1 AS last) "
    "UPDATE event_sequencer SET last_revision = coalesce((SELECT max(last) FROM numbered), last_revision) "
    "WHERE id = 1 RETURNING last_revision, (SELECT count(*) FROM numbered) AS numbered_rows"
)
_NOTIFY = Sql("SELECT pg_notify(:channel, CAST(:revision AS text))")
_BOUNDS = Sql(
    "SELECT coalesce(max(pruned_through), 0) AS pruned_through, coalesce(max(last_revision), 0) AS last_revision "
    "FROM event_sequencer"
)
# From the row holding revision :cursor + 1 on, one event per array element. A removed endpoint's
# document is read now (a deleted endpoint no longer changes); should retention have pruned the
# endpoint already, the event says only which one was removed.
_AFTER = Sql(
    "SELECT b.revision + o.n - 1 AS revision, o.kind, b.at, coalesce(o.doc, d.doc, "
    " jsonb_build_object('id', o.id, 'host', '', 'owner_id', '', 'interface', '', 'network', '', 'mac', '', "
    " 'labels', '{}'::jsonb, 'state', 'deleted', 'created_at', b.at, 'updated_at', b.at, 'deleted_at', b.at, "
    " 'addresses', '[]'::jsonb)) AS endpoint "
    "FROM event b CROSS JOIN LATERAL unnest(b.endpoint_ids, b.kinds, b.endpoints) "
    " WITH ORDINALITY AS o(id, kind, doc, n) "
    "LEFT JOIN endpoint_doc d ON o.doc IS NULL AND d.id = o.id "
    "WHERE b.revision >= (SELECT coalesce(max(revision), 0) FROM event WHERE revision <= :cursor + 1) "
    "AND b.revision + o.n - 1 > :cursor ORDER BY b.revision, o.n LIMIT :limit"
)
# Each endpoint changed after :cursor, with the kind of its first change after it: the numbered
# events (in revision order), then those committed but not numbered yet (numbered later, in id order).
_TOUCHED_AFTER = Sql(
    "SELECT o.id, (array_agg(o.kind ORDER BY b.pending, b.revision, b.id, o.n))[1] AS first_kind "
    "FROM (SELECT id, revision, endpoint_ids, kinds, false AS pending FROM event "
    "  WHERE revision >= (SELECT coalesce(max(revision), 0) FROM event WHERE revision <= :cursor + 1) "
    " UNION ALL SELECT id, revision, endpoint_ids, kinds, true FROM event WHERE revision IS NULL) b "
    "CROSS JOIN LATERAL unnest(b.endpoint_ids, b.kinds) WITH ORDINALITY AS o(id, kind, n) "
    "WHERE b.pending OR b.revision + o.n - 1 > :cursor GROUP BY o.id"
)
# The last event of each of :ids with a revision in (:lower, :upper], with the endpoint as it
# left it (a row holds at most ROW_EVENTS events: rows from :lower - ROW_EVENTS + 2 on may hold some).
_LAST_IN = Sql(
    "SELECT DISTINCT ON (o.id) o.id, coalesce(o.doc, d.doc) AS doc FROM event b "
    "CROSS JOIN LATERAL unnest(b.endpoint_ids, b.endpoints) WITH ORDINALITY AS o(id, doc, n) "
    "LEFT JOIN endpoint_doc d ON o.doc IS NULL AND d.id = o.id "
    "WHERE b.revision > :lower - :batch AND b.revision <= :upper AND b.endpoint_ids && CAST(:ids AS bigint[]) "
    "AND o.id = ANY (CAST(:ids AS bigint[])) AND b.revision + o.n - 1 > :lower AND b.revision + o.n - 1 <= :upper "
    "ORDER BY o.id, b.revision DESC, o.n DESC"
)
_REPEATABLE_READ = Sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
_TRY_PRUNE_LOCK = Sql(f"SELECT pg_try_advisory_xact_lock({_PRUNE_LOCK})")
# Only a prefix of the log goes (every revision up to pruned_through is gone, every later one kept).
_PRUNE_EVENTS = Sql(
    "WITH oldest AS (SELECT revision, bool_and(at < :cutoff) OVER (ORDER BY revision) AS old FROM ("
    " SELECT revision, at FROM event WHERE revision IS NOT NULL ORDER BY revision LIMIT :batch) s), "
    "gone AS (DELETE FROM event WHERE revision <= (SELECT max(revision) FROM oldest WHERE old) "
    " RETURNING size, revision + size - 1 AS upto) "
    "SELECT coalesce(sum(size), 0) AS n, max(upto) AS upto FROM gone"
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


def sequence(conn: Connection, batch: int = SEQUENCE_BATCH) -> tuple[int, int]:
    """Number up to `batch` committed rows of events; (newest revision, how many rows were
    numbered now), or (0, 0) when none is waiting.

    Tells every server (SEQUENCED_CHANNEL) when it numbered any.
    """
    if not run(conn, _ANY_PENDING).scalar():  # the usual case when idle: no write, no lock
        return 0, 0
    last = run(conn, _LOCK_HEAD).scalar()
    if last is None:  # a fresh or emptied database
        run(conn, _CREATE_HEAD)
        last = run(conn, _LOCK_HEAD).scalar_one()
    numbered = run(conn, _NUMBER, {"batch": batch, "last": int(last)}).one()
    head = int(numbered.last_revision)
    if head > last:
        run(conn, _NOTIFY, {"channel": SEQUENCED_CHANNEL, "revision": head})
    return head, int(numbered.numbered_rows)


def bounds(conn: Connection) -> tuple[int, int]:
    """(last revision pruned, newest revision): revisions in between are all in the log."""
    row = run(conn, _BOUNDS).one()
    return int(row.pruned_through), int(row.last_revision)


def after(conn: Connection, cursor: int, limit: int) -> list[Any]:
    """Events with a revision greater than `cursor`, oldest first (revision, kind, at, endpoint doc)."""
    return list(run(conn, _AFTER, {"cursor": cursor, "limit": limit}))


def snapshot(conn: Connection) -> None:
    """Make the rest of this transaction read one snapshot (its first statement): the endpoints,
    the log and its bounds as of one moment, pruned events included."""
    run(conn, _REPEATABLE_READ)


def touched_after(conn: Connection, cursor: int) -> dict[int, str]:
    """Every endpoint with an event after revision `cursor`, numbered or not yet: the kind of
    its first such event."""
    return {int(row.id): row.first_kind for row in run(conn, _TOUCHED_AFTER, {"cursor": cursor})}


def last_in(conn: Connection, ids: list[int], lower: int, upper: int) -> dict[int, Any]:
    """For each of `ids` with an event in revisions (lower, upper]: the endpoint document its
    last one there left."""
    params = {"ids": ids, "lower": lower, "upper": upper, "batch": ROW_EVENTS}
    return {int(row.id): row.doc for row in run(conn, _LAST_IN, params)}


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
