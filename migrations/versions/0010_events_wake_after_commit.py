"""Writers no longer NOTIFY: a transaction that sends NOTIFY takes one lock for the whole cluster
from its commit until its commit record is flushed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 10:00:00

`ipam_record_events` (the lease triggers, endpoint registration) sent `ipam_event_pending` so that
a sequencer numbered the new events. PostgreSQL serializes the commits of all transactions that
NOTIFY (the lock is held through the WAL flush), so every allocation and release committed one
after the other: three quarters of the server's database connections waited on that lock at
C=32, and allocation ran at a seventh of the no-op call rate. Now the server that committed the
events wakes its own sequencer after the commit (ipam.store.tx.commit_observers), whose NOTIFY
of the numbered revisions (one per batch of commits) wakes the watchers of every replica; the
servers' half-second poll numbers events written by any other process.

A lease statement that changed no lease (no released slot to reuse, every slot taken meanwhile)
still fires its statement-level trigger: `ipam_registry_apply` now returns at once when no lease
was gained or lost, instead of running the registry's statements on empty sets.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD_EVENTS = r"""
CREATE OR REPLACE FUNCTION ipam_record_events(ids bigint[], kinds text[]) RETURNS void LANGUAGE plpgsql
SET jit = off AS $$
BEGIN
  INSERT INTO event (size, endpoint_ids, kinds, endpoints)
  SELECT count(*), array_agg(c.id ORDER BY c.id), array_agg(c.kind ORDER BY c.id),
         array_agg(CASE WHEN c.kind <> 'removed' THEN (SELECT d.doc FROM endpoint_doc d WHERE d.id = c.id) END
                   ORDER BY c.id)
  FROM (SELECT u.id, u.kind, (row_number() OVER (ORDER BY u.id) - 1) / 1000 AS chunk
        FROM unnest(ids, kinds) AS u(id, kind)) c
  GROUP BY c.chunk ORDER BY c.chunk;
{notify}END
$$;
"""

_APPLY = r"""
CREATE OR REPLACE FUNCTION ipam_registry_apply(gained lease[], lost lease[]) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
{check}  PERFORM ipam_registry_change(gained, ARRAY(SELECT l.id FROM unnest(lost) l), now());
END
$$;
"""
_NOTHING_CHANGED = "  IF cardinality(gained) = 0 AND cardinality(lost) = 0 THEN\n    RETURN;\n  END IF;\n"


def upgrade() -> None:
    op.execute(_RECORD_EVENTS.format(notify=""))
    op.execute(_APPLY.format(check=_NOTHING_CHANGED))


def downgrade() -> None:
    op.execute(_APPLY.format(check=""))
    op.execute(_RECORD_EVENTS.format(notify="  PERFORM pg_notify('ipam_event_pending', '');\n"))
