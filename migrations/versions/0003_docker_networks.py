"""Docker network subnets share the host subnet table (and its non-overlap constraint).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 21:50:00

A Docker network subnet is a `host_subnet` row of kind 'docker' with no host and no block index:
the one exclusion constraint `host_subnet_no_overlap_in_space` then keeps network subnets and host
subnets of a space apart. `docker_network_host` records which hosts use a network (one row per
host, so that dockerd replaying its pools after a restart counts nothing twice).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("host_subnet", sa.Column("kind", sa.Text(), server_default="host", nullable=False))
    op.add_column("host_subnet", sa.Column("ip_range", postgresql.CIDR(), nullable=True))
    op.add_column("host_subnet", sa.Column("gateway", postgresql.INET(), nullable=True))
    op.alter_column("host_subnet", "host_id", existing_type=sa.Integer(), nullable=True)
    op.alter_column("host_subnet", "idx", existing_type=sa.BigInteger(), nullable=True)
    op.create_check_constraint("host_subnet_kind", "host_subnet", "kind IN ('host', 'docker')")
    op.create_check_constraint(
        "host_subnet_host_has_block",
        "host_subnet",
        "(kind = 'host') = (host_id IS NOT NULL AND idx IS NOT NULL)",
    )
    op.create_check_constraint(
        "host_subnet_docker_fields",
        "host_subnet",
        "kind = 'docker' OR (ip_range IS NULL AND gateway IS NULL)",
    )
    op.create_table(
        "docker_network_host",
        sa.Column("subnet_id", sa.BigInteger(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["subnet_id"], ["host_subnet.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["host_id"], ["host.id"]),
        sa.PrimaryKeyConstraint("subnet_id", "host_id"),
    )


def downgrade() -> None:
    op.drop_table("docker_network_host")
    op.execute("DELETE FROM host_subnet WHERE kind = 'docker'")
    op.drop_constraint("host_subnet_docker_fields", "host_subnet")
    op.drop_constraint("host_subnet_host_has_block", "host_subnet")
    op.drop_constraint("host_subnet_kind", "host_subnet")
    op.alter_column("host_subnet", "idx", existing_type=sa.BigInteger(), nullable=False)
    op.alter_column("host_subnet", "host_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("host_subnet", "gateway")
    op.drop_column("host_subnet", "ip_range")
    op.drop_column("host_subnet", "kind")
