"""Registry backlog: a garbage collection that deletes a dead host's whole subnet leaves the
registry's bookkeeping of its leases to a background worker.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 04:00:00

Closing 10,000 holdings, ending their endpoints and logging the events was most of the cost of
reclaiming a 10,000-lease subnet (0.57-0.85 s of 0.66-0.97 s), and inside the reclaiming
transaction it kept the addresses from being reused until it was done. When the transaction says so
(`SET LOCAL ipam.defer_registry = on`, only the collection of a dead host's whole subnet does),
the delete trigger records the deleted lease ids in `registry_backlog` with the time of the
reclaim instead. A worker in every server (`ipam.service.registry_backlog`) catches up row by
row: holdings close and endpoints end AT THAT TIME, events are logged. Only deleted leases are
deferred: their ids never come back, so a holding left open for a while never meets a new
holding of the same lease.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The body of ipam_registry_apply of 0006, with the lost leases given by id (`lost_ids`) and the
# time they were lost (`lost_at`).
_BODY = r"""
  WITH closed AS (
    UPDATE address_history SET held_until = lost_at
    WHERE held_until IS NULL AND lease_id = ANY (lost_ids)
    RETURNING endpoint_id)
  SELECT coalesce(array_agg(DISTINCT endpoint_id), '{}') INTO touched FROM closed;

  IF cardinality(gained) > 0 THEN
    -- Upsert in owner-key order so that concurrent batches lock endpoints in the same order.
    WITH owners AS (
      SELECT DISTINCT ON (g.owner_id, g.interface) g.owner_id, g.interface, g.host_id, g.attributes
      FROM unnest(gained) g ORDER BY g.owner_id, g.interface, g.id),
    upserted AS (
      INSERT INTO endpoint AS e (host_id, owner_id, interface, network, mac, labels, state)
      SELECT o.host_id, o.owner_id, o.interface,
             coalesce(o.attributes->>'network', o.attributes->>'cni.network', ''),
             coalesce(o.attributes->>'mac', ''), ipam_endpoint_labels(o.attributes), 'active'
      FROM owners o ORDER BY o.owner_id, o.interface
      ON CONFLICT (owner_id, interface) WHERE state = 'active' DO UPDATE SET
        host_id = EXCLUDED.host_id,
        network = CASE WHEN EXCLUDED.network <> '' THEN EXCLUDED.network ELSE e.network END,
        mac = CASE WHEN EXCLUDED.mac <> '' THEN EXCLUDED.mac ELSE e.mac END,
        labels = e.labels || EXCLUDED.labels,
        updated_at = now()
      RETURNING e.id, e.owner_id, e.interface, (e.xmax = 0) AS inserted),
    opened AS (
      INSERT INTO address_history (space_id, pool_id, lease_id, address, endpoint_id, held_from)
      SELECT p.space_id, g.pool_id, g.id, g.address, u.id, now()
      FROM unnest(gained) g JOIN upserted u USING (owner_id, interface) JOIN pool p ON p.id = g.pool_id
      RETURNING endpoint_id)
    SELECT coalesce(array_agg(u.id) FILTER (WHERE u.inserted), '{}'),
           touched || coalesce(array_agg(u.id) FILTER (WHERE NOT u.inserted), '{}')
    INTO added, touched
    FROM upserted u;  -- `opened` runs all the same: data-modifying CTEs always do
  ELSE
    added := '{}';
  END IF;

  touched := ARRAY(SELECT DISTINCT t FROM unnest(touched) t WHERE t <> ALL (added) ORDER BY t);
  IF cardinality(touched) > 0 THEN
    -- Lock first; the next statement's snapshot then sees every release committed meanwhile,
    -- so two concurrent releases of an endpoint's last two addresses cannot both miss the end.
    PERFORM 1 FROM endpoint WHERE id = ANY (touched) AND state = 'active' ORDER BY id FOR UPDATE;
    WITH ended AS (
      UPDATE endpoint e SET state = 'deleted', deleted_at = lost_at, updated_at = lost_at
      WHERE e.id = ANY (touched) AND e.state = 'active'
        AND NOT EXISTS (SELECT 1 FROM address_history a WHERE a.endpoint_id = e.id AND a.held_until IS NULL)
      RETURNING e.id)
    SELECT coalesce(array_agg(id), '{}') INTO removed FROM ended;
    changed := ARRAY(SELECT t FROM unnest(touched) t WHERE t <> ALL (removed));
    UPDATE endpoint SET updated_at = greatest(updated_at, lost_at) WHERE id = ANY (changed);
  ELSE
    removed := '{}';
    changed := '{}';
  END IF;

  IF cardinality(added) + cardinality(changed) + cardinality(removed) > 0 THEN
    PERFORM ipam_record_events(
      added || changed || removed,
      array_fill('added'::text, ARRAY[cardinality(added)])
        || array_fill('updated'::text, ARRAY[cardinality(changed)])
        || array_fill('removed'::text, ARRAY[cardinality(removed)]));
  END IF;
"""
_DECLARE = """
  touched bigint[];
  added bigint[];
  removed bigint[];
  changed bigint[];
"""
_CHANGE = f"""
CREATE FUNCTION ipam_registry_change(gained lease[], lost_ids bigint[], lost_at timestamptz) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
DECLARE{_DECLARE}BEGIN{_BODY}END
$$;
"""

_DEFER = r"""
CREATE OR REPLACE FUNCTION ipam_registry_apply(gained lease[], lost lease[]) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
  PERFORM ipam_registry_change(gained, ARRAY(SELECT l.id FROM unnest(lost) l), now());
END
$$;

CREATE OR REPLACE FUNCTION ipam_lease_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('ipam.defer_registry', true) = 'on' THEN
    INSERT INTO registry_backlog (lease_ids)
    SELECT array_agg(o.id ORDER BY o.id) FROM old_rows o WHERE o.state = 'active' HAVING count(*) > 0;
    PERFORM pg_notify('ipam_registry_backlog', '');
  ELSE
    PERFORM ipam_registry_apply('{}'::lease[], ARRAY(SELECT o::lease FROM old_rows o WHERE o.state = 'active'));
  END IF;
  RETURN NULL;
END
$$;
"""

# The function of 0006 (with 0007's jit setting): the same body, on the leases' ids and now().
_APPLY_0007 = f"""
CREATE OR REPLACE FUNCTION ipam_registry_apply(gained lease[], lost lease[]) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
DECLARE
  lost_ids bigint[] := ARRAY(SELECT l.id FROM unnest(lost) l);
  lost_at timestamptz := now();{_DECLARE}BEGIN{_BODY}END
$$;
"""
_OLD_DELETED = r"""
CREATE OR REPLACE FUNCTION ipam_lease_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ipam_registry_apply('{}'::lease[], ARRAY(SELECT o::lease FROM old_rows o WHERE o.state = 'active'));
  RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.create_table(
        "registry_backlog",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("lease_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.CheckConstraint("cardinality(lease_ids) > 0", name="registry_backlog_not_empty"),
        sa.PrimaryKeyConstraint("id", name="registry_backlog_pkey"),
    )
    op.execute(_CHANGE)
    op.execute(_DEFER)


def downgrade() -> None:
    # What is still in the backlog is applied first: nothing the registry owes is lost.
    op.execute("SELECT ipam_registry_change('{}'::lease[], lease_ids, at) FROM registry_backlog ORDER BY id")
    op.execute(_OLD_DELETED)
    op.execute(_APPLY_0007)
    op.execute("DROP FUNCTION ipam_registry_change(lease[], bigint[], timestamptz)")
    op.drop_table("registry_backlog")
