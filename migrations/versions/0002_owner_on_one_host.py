"""An owner key's active leases are all on one host.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:55:00

An owner key (container + interface) is one endpoint; with two replicas, only the database can
stop the same key from being allocated on two hosts at once (btree_gist gives `<>`).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE lease ADD CONSTRAINT lease_owner_on_one_host "
        "EXCLUDE USING gist (owner_id WITH =, interface WITH =, host_id WITH <>) WHERE (state = 'active')"
    )


def downgrade() -> None:
    op.drop_constraint("lease_owner_on_one_host", "lease")
