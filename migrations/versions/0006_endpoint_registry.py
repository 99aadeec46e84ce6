"""Endpoint registry: endpoints, address history and the event log, kept in step with leases.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:50:00

Statement-level triggers on `lease` (with transition tables: one set of statements per batch,
however many leases it touches) maintain `endpoint`, `address_history` and `event` in the SAME
transaction as the lease change, whichever code path changed the lease (allocation, release,
reuse of a slot, a subnet or pool deleted with force, garbage collection). Events are written
with revision NULL; `ipam.store.events.sequence` numbers them after commit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = r"""
-- Endpoint labels from lease attributes: Kubernetes CNI_ARGS under their usual label names;
-- the network name and the MAC address are columns of their own.
CREATE FUNCTION ipam_endpoint_labels(attrs jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(jsonb_object_agg(CASE key
      WHEN 'K8S_POD_NAMESPACE' THEN 'io.kubernetes.pod.namespace'
      WHEN 'K8S_POD_NAME' THEN 'io.kubernetes.pod.name'
      WHEN 'K8S_POD_UID' THEN 'io.kubernetes.pod.uid'
      WHEN 'K8S_POD_INFRA_CONTAINER_ID' THEN 'io.kubernetes.sandbox.id'
      ELSE key END, value), '{}'::jsonb)
  FROM jsonb_each_text(attrs) WHERE key NOT IN ('network', 'cni.network', 'mac')
$$;

-- What a watcher receives: the endpoint as it is now, with the addresses it holds (or, once
-- deleted, those it held at the end). A view, joined where documents are needed, so that a set
-- of them is built in one statement (a garbage collection reclaiming 10,000 leases at once
-- spends a third of the time a per-endpoint function call takes) and prepared statements cache
-- its plan.
CREATE VIEW endpoint_doc AS
  SELECT e.id, jsonb_build_object(
    'id', e.id, 'host', h.name, 'owner_id', e.owner_id, 'interface', e.interface,
    'network', e.network, 'mac', e.mac, 'labels', e.labels, 'state', e.state,
    'created_at', e.created_at, 'updated_at', e.updated_at, 'deleted_at', e.deleted_at,
    'addresses', coalesce(held.addresses, '[]'::jsonb)) AS doc
  FROM endpoint e JOIN host h ON h.id = e.host_id
  LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('address', host(a.address), 'pool', coalesce(p.name, ''),
                                        'space', coalesce(s.name, '')) ORDER BY family(a.address), a.address)
      AS addresses
    FROM address_history a LEFT JOIN pool p ON p.id = a.pool_id LEFT JOIN address_space s ON s.id = a.space_id
    WHERE a.endpoint_id = e.id
      AND (CASE WHEN e.state = 'active' THEN a.held_until IS NULL ELSE a.held_until = e.deleted_at END)) held
    ON true;

-- Append one event per endpoint (ids and kinds side by side) and wake the sequencers.
CREATE FUNCTION ipam_record_events(ids bigint[], kinds text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO event (endpoint_id, kind, endpoint)
  SELECT c.id, c.kind, d.doc FROM unnest(ids, kinds) AS c(id, kind) JOIN endpoint_doc d ON d.id = c.id
  ORDER BY c.id;
  PERFORM pg_notify('ipam_event_pending', '');
END
$$;

-- Leases that became active (`gained`) or stopped being active (`lost`) in one statement.
CREATE FUNCTION ipam_registry_apply(gained lease[], lost lease[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  touched bigint[];
  added bigint[];
  removed bigint[];
  changed bigint[];
BEGIN
  WITH closed AS (
    UPDATE address_history SET held_until = now()
    WHERE held_until IS NULL AND lease_id IN (SELECT l.id FROM unnest(lost) l)
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
      UPDATE endpoint e SET state = 'deleted', deleted_at = now(), updated_at = now()
      WHERE e.id = ANY (touched) AND e.state = 'active'
        AND NOT EXISTS (SELECT 1 FROM address_history a WHERE a.endpoint_id = e.id AND a.held_until IS NULL)
      RETURNING e.id)
    SELECT coalesce(array_agg(id), '{}') INTO removed FROM ended;
    changed := ARRAY(SELECT t FROM unnest(touched) t WHERE t <> ALL (removed));
    UPDATE endpoint SET updated_at = now() WHERE id = ANY (changed);
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
END
$$;

CREATE FUNCTION ipam_lease_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ipam_registry_apply(ARRAY(SELECT n::lease FROM new_rows n WHERE n.state = 'active'), '{}'::lease[]);
  RETURN NULL;
END
$$;

-- A row changes hands when it becomes active, is released, or is reused by another owner.
CREATE FUNCTION ipam_lease_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ipam_registry_apply(
    ARRAY(SELECT n::lease FROM new_rows n JOIN old_rows o USING (id) WHERE n.state = 'active'
          AND (o.state <> 'active' OR (o.owner_id, o.interface) <> (n.owner_id, n.interface))),
    ARRAY(SELECT o::lease FROM old_rows o JOIN new_rows n USING (id) WHERE o.state = 'active'
          AND (n.state <> 'active' OR (o.owner_id, o.interface) <> (n.owner_id, n.interface))));
  RETURN NULL;
END
$$;

CREATE FUNCTION ipam_lease_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ipam_registry_apply('{}'::lease[], ARRAY(SELECT o::lease FROM old_rows o WHERE o.state = 'active'));
  RETURN NULL;
END
$$;

CREATE TRIGGER lease_registry_insert AFTER INSERT ON lease REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipam_lease_inserted();
CREATE TRIGGER lease_registry_update AFTER UPDATE ON lease
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipam_lease_updated();
CREATE TRIGGER lease_registry_delete AFTER DELETE ON lease REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION ipam_lease_deleted();
"""

# Leases active before this revision get their endpoints and open holdings (no events: a watcher
# starts from a list, which shows them).
_BACKFILL = """
INSERT INTO endpoint (host_id, owner_id, interface, network, mac, labels, state, created_at)
SELECT DISTINCT ON (owner_id, interface) host_id, owner_id, interface,
       coalesce(attributes->>'network', attributes->>'cni.network', ''), coalesce(attributes->>'mac', ''),
       ipam_endpoint_labels(attributes), 'active', min(allocated_at) OVER (PARTITION BY owner_id, interface)
FROM lease WHERE state = 'active' ORDER BY owner_id, interface, id;
INSERT INTO address_history (space_id, pool_id, lease_id, address, endpoint_id, held_from)
SELECT p.space_id, l.pool_id, l.id, l.address, e.id, l.allocated_at
FROM lease l JOIN pool p ON p.id = l.pool_id
JOIN endpoint e ON e.owner_id = l.owner_id AND e.interface = l.interface AND e.state = 'active'
WHERE l.state = 'active';
"""

_DROP_FUNCTIONS = """
DROP TRIGGER lease_registry_insert ON lease;
DROP TRIGGER lease_registry_update ON lease;
DROP TRIGGER lease_registry_delete ON lease;
DROP FUNCTION ipam_lease_inserted();
DROP FUNCTION ipam_lease_updated();
DROP FUNCTION ipam_lease_deleted();
DROP FUNCTION ipam_registry_apply(lease[], lease[]);
DROP FUNCTION ipam_record_events(bigint[], text[]);
DROP VIEW endpoint_doc;
DROP FUNCTION ipam_endpoint_labels(jsonb);
"""


def upgrade() -> None:
    created = {"server_default": sa.text("now()"), "nullable": False}
    op.create_table(
        "endpoint",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("interface", sa.Text(), nullable=False),
        sa.Column("network", sa.Text(), server_default="", nullable=False),
        sa.Column("mac", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "labels", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), **created),
        sa.Column("updated_at", sa.DateTime(timezone=True), **created),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('active', 'deleted')", name="endpoint_state"),
        sa.CheckConstraint("(state = 'deleted') = (deleted_at IS NOT NULL)", name="endpoint_deleted_at"),
        sa.ForeignKeyConstraint(["host_id"], ["host.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "endpoint_one_live",
        "endpoint",
        ["owner_id", "interface"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index("endpoint_by_host", "endpoint", ["host_id"])
    op.create_table(
        "address_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("lease_id", sa.BigInteger(), nullable=False),
        sa.Column("address", postgresql.INET(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("held_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["endpoint.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("address_history_lookup", "address_history", ["space_id", "address", sa.text("held_from DESC")])
    op.create_index("address_history_by_endpoint", "address_history", ["endpoint_id"])
    op.create_index(
        "address_history_open",
        "address_history",
        ["lease_id"],
        unique=True,
        postgresql_where=sa.text("held_until IS NULL"),
    )
    op.create_index(
        "address_history_ended", "address_history", ["held_until"], postgresql_where=sa.text("held_until IS NOT NULL")
    )
    op.create_table(
        "event",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=True),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), **created),
        sa.Column("endpoint", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.CheckConstraint("kind IN ('added', 'updated', 'removed')", name="event_kind"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("revision"),
    )
    op.create_index("event_unsequenced", "event", ["id"], postgresql_where=sa.text("revision IS NULL"))
    op.create_table(
        "event_sequencer",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("last_revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pruned_through", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("id = 1", name="event_sequencer_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(_FUNCTIONS)
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.execute(_DROP_FUNCTIONS)
    op.drop_table("event_sequencer")
    op.drop_index("event_unsequenced", table_name="event", postgresql_where=sa.text("revision IS NULL"))
    op.drop_table("event")
    op.drop_table("address_history")
    op.drop_table("endpoint")
