"""SQL for the registry backlog (migration 0008): leases deleted by a transaction that deferred
their registry bookkeeping, and catching up on them."""

from __future__ import annotations

from sqlalchemy import Connection

from ipam.store.sql import Sql, run

CHANNEL = "ipam_registry_backlog"  # notified by the lease delete trigger when it defers

_DEFER = Sql("SET LOCAL ipam.defer_registry = on")
# The oldest row no other worker is on; it goes once applied, in the same transaction.
_TAKE = Sql("SELECT id, at, lease_ids FROM registry_backlog ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED")
_APPLY = Sql("SELECT ipam_registry_change(CAST('{}' AS lease[]), CAST(:lease_ids AS bigint[]), :at)")
_DONE = Sql("DELETE FROM registry_backlog WHERE id = :id")
_PENDING = Sql("SELECT count(*) AS rows, coalesce(sum(cardinality(lease_ids)), 0) AS leases FROM registry_backlog")


def defer(conn: Connection) -> None:
    """Leases this transaction deletes go to the backlog instead of the registry."""
    run(conn, _DEFER)


def catch_up_one(conn: Connection) -> int | None:
    """Apply the oldest backlog row: its leases' holdings close and their endpoints end at the
    time they were deleted, and the events are logged. How many leases it held; None when no
    row is waiting (or every waiting one is being applied by another worker)."""
    row = run(conn, _TAKE).first()
    if row is None:
        return None
    run(conn, _APPLY, {"lease_ids": row.lease_ids, "at": row.at})
    run(conn, _DONE, {"id": row.id})
    return len(row.lease_ids)


def pending(conn: Connection) -> tuple[int, int]:
    """(rows, leases) waiting."""
    row = run(conn, _PENDING).one()
    return int(row.rows), int(row.leases)
