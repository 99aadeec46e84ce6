"""Event log in batches: one row per up to 1,000 events of one statement, documents of removed
endpoints read when the event is read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 01:00:00

A garbage collection that reclaims a dead host's 10,000 leases wrote 10,000 event rows, each with
the endpoint document built in the reclaiming transaction, and the sequencer then rewrote each row
to number it: most of the reclaim's cost. Now the events of one statement go into rows of up to
1,000 (`endpoint_ids`, `kinds` and `endpoints` side by side), the sequencer numbers a row at once
(`revision` is its first event's; the row holds revisions revision .. revision + size - 1), and a
removed endpoint's document is not stored: a deleted endpoint no longer changes, so reading its
document from `endpoint_doc` later gives the same one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
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
  PERFORM pg_notify('ipam_event_pending', '');
END
$$;
-- Plans of the bulk statements cross the JIT threshold; compiling costs more than it saves.
ALTER FUNCTION ipam_registry_apply(lease[], lease[]) SET jit = off;
"""

_OLD_RECORD_EVENTS = r"""
CREATE OR REPLACE FUNCTION ipam_record_events(ids bigint[], kinds text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO event (endpoint_id, kind, endpoint)
  SELECT c.id, c.kind, d.doc FROM unnest(ids, kinds) AS c(id, kind) JOIN endpoint_doc d ON d.id = c.id
  ORDER BY c.id;
  PERFORM pg_notify('ipam_event_pending', '');
END
$$;
ALTER FUNCTION ipam_registry_apply(lease[], lease[]) RESET jit;
"""


def _create_event_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("endpoint_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("kinds", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("endpoints", postgresql.ARRAY(postgresql.JSONB(astext_type=sa.Text())), nullable=False),
        sa.CheckConstraint(
            "size > 0 AND cardinality(endpoint_ids) = size AND cardinality(kinds) = size "
            "AND cardinality(endpoints) = size",
            name="event_sizes",
        ),
        sa.CheckConstraint("kinds <@ ARRAY['added', 'updated', 'removed']", name="event_kinds"),
        sa.PrimaryKeyConstraint("id", name="event_pkey"),
        sa.UniqueConstraint("revision", name="event_revision_key"),
    )


def upgrade() -> None:
    op.execute("ALTER TABLE event RENAME TO event_0006")
    op.execute("ALTER TABLE event_0006 RENAME CONSTRAINT event_pkey TO event_0006_pkey")
    op.execute("ALTER TABLE event_0006 RENAME CONSTRAINT event_revision_key TO event_0006_revision_key")
    op.execute("ALTER INDEX event_unsequenced RENAME TO event_0006_unsequenced")
    _create_event_table("event")
    op.create_index("event_unsequenced", "event", ["id"], postgresql_where=sa.text("revision IS NULL"))
    # Each event of before becomes a row of its own, its document kept.
    op.execute(
        "INSERT INTO event (id, revision, size, at, endpoint_ids, kinds, endpoints) "
        "SELECT id, revision, 1, at, ARRAY[endpoint_id], ARRAY[kind], ARRAY[endpoint] FROM event_0006"
    )
    op.execute("SELECT setval(pg_get_serial_sequence('event', 'id'), coalesce(max(id), 0) + 1, false) FROM event")
    op.drop_table("event_0006")
    op.execute(_RECORD_EVENTS)


def downgrade() -> None:
    op.execute(_OLD_RECORD_EVENTS)
    op.execute("ALTER TABLE event RENAME TO event_0007")
    op.execute("ALTER TABLE event_0007 RENAME CONSTRAINT event_pkey TO event_0007_pkey")
    op.execute("ALTER TABLE event_0007 RENAME CONSTRAINT event_revision_key TO event_0007_revision_key")
    op.execute("ALTER INDEX event_unsequenced RENAME TO event_0007_unsequenced")
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("endpoint", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("kind IN ('added', 'updated', 'removed')", name="event_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("revision"),
    )
    op.create_index("event_unsequenced", "event", ["id"], postgresql_where=sa.text("revision IS NULL"))
    op.execute(
        "INSERT INTO event (revision, endpoint_id, kind, at, endpoint) "
        "SELECT b.revision + o.n - 1, o.id, o.kind, b.at, coalesce(o.doc, d.doc) "
        "FROM event_0007 b CROSS JOIN LATERAL unnest(b.endpoint_ids, b.kinds, b.endpoints) "
        "WITH ORDINALITY AS o(id, kind, doc, n) LEFT JOIN endpoint_doc d ON d.id = o.id "
        "WHERE o.doc IS NOT NULL OR d.doc IS NOT NULL ORDER BY b.id, o.n"
    )
    op.drop_table("event_0007")
