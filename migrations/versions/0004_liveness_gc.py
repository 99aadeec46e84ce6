"""Host liveness (heartbeat TTL, drain) and the record of garbage collection.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 22:00:00

A host's state (alive / stale / dead) follows from its last heartbeat, its TTL and the grace
period, so only the TTL and the drain time are stored. `gc_record` is append-only: one row per
lease or host subnet reclaimed, with the reason. `lease_by_host` gains the lease id, so that a
dead host's leases are read in id order from the index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("host", sa.Column("heartbeat_ttl_seconds", sa.Integer(), server_default="30", nullable=False))
    op.add_column("host", sa.Column("drained_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint("host_heartbeat_ttl_positive", "host", "heartbeat_ttl_seconds > 0")
    op.create_index("host_by_last_seen", "host", ["last_seen_at"])
    op.create_table(
        "gc_record",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("space", sa.Text(), nullable=False),
        sa.Column("pool", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), server_default="", nullable=False),
        sa.Column("interface", sa.Text(), server_default="", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("kind IN ('lease', 'subnet')", name="gc_record_kind"),
        sa.CheckConstraint(
            "reason IN ('dead_host', 'runtime_gone', 'empty_subnet', 'host_deleted')", name="gc_record_reason"
        ),
    )
    op.create_index("gc_record_by_host", "gc_record", ["host", "id"])
    # A host's leases in id order (GC pages through a dead host's leases without a scan of all).
    op.drop_index("lease_by_host", "lease")
    op.create_index("lease_by_host", "lease", ["host_id", "id"])


def downgrade() -> None:
    op.drop_index("lease_by_host", "lease")
    op.create_index("lease_by_host", "lease", ["host_id"])
    op.drop_index("gc_record_by_host", "gc_record")
    op.drop_table("gc_record")
    op.drop_index("host_by_last_seen", "host")
    op.drop_constraint("host_heartbeat_ttl_positive", "host")
    op.drop_column("host", "drained_at")
    op.drop_column("host", "heartbeat_ttl_seconds")
