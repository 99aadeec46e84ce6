"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-29 19:23:47.543686

btree_gist provides the `=` operator class the exclusion constraints need next to `&&`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "address_space",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "host",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "labels",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "pool",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("cidr", postgresql.CIDR(), nullable=False),
        sa.Column("family", sa.SmallInteger(), nullable=False),
        sa.Column("host_prefix_length", sa.SmallInteger(), nullable=False),
        sa.Column(
            "reserved_cidrs",
            postgresql.ARRAY(postgresql.CIDR()),
            server_default=sa.text("'{}'::cidr[]"),
            nullable=False,
        ),
        sa.Column("host_selector", sa.Text(), server_default="", nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("cooldown_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("max_subnets_per_host", sa.Integer(), server_default="0", nullable=False),
        sa.Column("gateway_policy", sa.Text(), nullable=False),
        sa.Column("next_block", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.text("space_id"), "="),
            (sa.text("cidr inet_ops"), "&&"),
            using="gist",
            name="pool_no_overlap_in_space",
        ),
        sa.CheckConstraint("gateway_policy IN ('first_usable', 'none')", name="pool_gateway_policy"),
        sa.CheckConstraint("cooldown_seconds >= 0 AND max_subnets_per_host >= 0", name="pool_non_negative"),
        sa.CheckConstraint("family IN (4, 6)", name="pool_family"),
        sa.CheckConstraint("family(cidr) = family", name="pool_family_matches_cidr"),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["address_space.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "free_block",
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pool.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool_id", "idx"),
    )
    op.create_table(
        "host_subnet",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("space_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("cidr", postgresql.CIDR(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("offset_limit", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.text("space_id"), "="),
            (sa.text("cidr inet_ops"), "&&"),
            using="gist",
            name="host_subnet_no_overlap_in_space",
        ),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["host.id"],
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pool.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["space_id"],
            ["address_space.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool_id", "idx", name="host_subnet_block_once"),
    )
    op.create_index("host_subnet_by_host", "host_subnet", ["host_id", "pool_id"], unique=False)
    op.create_table(
        "lease",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("subnet_id", sa.BigInteger(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("address", postgresql.INET(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("interface", sa.Text(), nullable=False),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("allocated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(state = 'released') = (released_at IS NOT NULL)", name="lease_released_at"),
        sa.CheckConstraint("state IN ('active', 'released')", name="lease_state"),
        sa.ForeignKeyConstraint(
            ["host_id"],
            ["host.id"],
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pool.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subnet_id"], ["host_subnet.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subnet_id", "offset", name="lease_one_per_address"),
    )
    op.create_index("lease_by_address", "lease", ["address"], unique=False)
    op.create_index("lease_by_host", "lease", ["host_id"], unique=False)
    op.create_index("lease_by_owner", "lease", ["owner_id", "interface"], unique=False)
    op.create_index(
        "lease_one_per_owner",
        "lease",
        ["pool_id", "owner_id", "interface"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )
    op.create_index(
        "lease_reusable",
        "lease",
        ["subnet_id", "released_at"],
        unique=False,
        postgresql_where=sa.text("state = 'released'"),
    )
    op.execute("INSERT INTO address_space (name, description) VALUES ('default', 'The default address space')")


def downgrade() -> None:
    op.drop_index("lease_reusable", table_name="lease", postgresql_where=sa.text("state = 'released'"))
    op.drop_index("lease_one_per_owner", table_name="lease", postgresql_where=sa.text("state = 'active'"))
    op.drop_index("lease_by_owner", table_name="lease")
    op.drop_index("lease_by_host", table_name="lease")
    op.drop_index("lease_by_address", table_name="lease")
    op.drop_table("lease")
    op.drop_index("host_subnet_by_host", table_name="host_subnet")
    op.drop_table("host_subnet")
    op.drop_table("free_block")
    op.drop_table("pool")
    op.drop_table("host")
    op.drop_table("address_space")
