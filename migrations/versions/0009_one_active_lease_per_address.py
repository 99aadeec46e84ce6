"""One active lease per address in an address space, enforced by the database.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 05:30:00

`lease_one_per_address` is UNIQUE(subnet_id, offset): a second subnet row for the same block
would not see the first one's leases. Each lease now carries its address space (`space_id`,
kept equal to its pool's by the composite foreign key `lease_pool_in_space`, so it cannot be
wrong), and the partial unique index `lease_one_active_per_address` on (space_id, address) WHERE
state = 'active' refuses a second active lease of an address however it is reached.

The upgrade refuses, naming them, when the data already holds such duplicates: which lease to
keep is the operator's decision (release the others, then upgrade again).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DUPLICATES = """
SELECT sp.name AS space, host(l.address) AS address,
       string_agg(format('lease %s (%s/%s on host %s)', l.id, l.owner_id, l.interface, h.name), ', ' ORDER BY l.id)
FROM lease l JOIN pool p ON p.id = l.pool_id JOIN address_space sp ON sp.id = p.space_id
JOIN host h ON h.id = l.host_id
WHERE l.state = 'active'
GROUP BY sp.name, l.address HAVING count(*) > 1
ORDER BY sp.name, l.address
"""


def duplicates_message(rows: Sequence[sa.Row[tuple[str, str, str]]]) -> str:
    listed = "".join(f"\n  space {space}, address {address}: {leases}" for space, address, leases in rows)
    return (
        f"migration 0009 cannot add the constraint lease_one_active_per_address: {len(rows)} address(es) "
        "are held by more than one active lease. Release all but one lease of each "
        f"(`ipam lease release --owner ID --interface NAME`), then upgrade again:{listed}"
    )


def upgrade() -> None:
    # Adding the column locks the table first: no lease changes between the check and the index.
    op.add_column("lease", sa.Column("space_id", sa.Integer(), nullable=True))
    duplicates = op.get_bind().execute(sa.text(_DUPLICATES)).all()
    if duplicates:
        raise RuntimeError(duplicates_message(duplicates))
    op.execute("UPDATE lease SET space_id = p.space_id FROM pool p WHERE p.id = lease.pool_id")
    op.alter_column("lease", "space_id", nullable=False)
    op.create_unique_constraint("pool_id_in_space", "pool", ["id", "space_id"])
    op.drop_constraint("lease_pool_id_fkey", "lease", type_="foreignkey")
    op.create_foreign_key(
        "lease_pool_in_space", "lease", "pool", ["pool_id", "space_id"], ["id", "space_id"], ondelete="CASCADE"
    )
    op.create_index(
        "lease_one_active_per_address",
        "lease",
        ["space_id", "address"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("lease_one_active_per_address", table_name="lease", postgresql_where=sa.text("state = 'active'"))
    op.drop_constraint("lease_pool_in_space", "lease", type_="foreignkey")
    op.create_foreign_key("lease_pool_id_fkey", "lease", "pool", ["pool_id"], ["id"], ondelete="CASCADE")
    op.drop_constraint("pool_id_in_space", "pool", type_="unique")
    op.drop_column("lease", "space_id")
