"""lease_one_active_per_address: the database refuses a second active lease of an address in an
address space however it is reached, and migration 0009 adds it to a database with data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from ipam.store.migrate import alembic_config, upgrade
from ipam.store.tx import constraint_name
from ipam_client import AddressSpec, IpamClient

# A second row for 10.0.0.5's slot under another offset: UNIQUE(subnet_id, offset) lets it through.
_SECOND_LEASE = (
    'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, state, '
    "released_at) SELECT subnet_id, pool_id, {space}, host_id, \"offset\" + 100, address, 'intruder', 'eth0', "
    "'{state}', {released_at} FROM lease WHERE owner_id = 'c1'"
)


def _insert_second(engine: Engine, *, state: str = "active", space: str = "space_id") -> None:
    released_at = "now()" if state == "released" else "NULL"
    with engine.begin() as conn:
        conn.execute(text(_SECOND_LEASE.format(space=space, state=state, released_at=released_at)))


def test_a_second_active_lease_of_an_address_is_refused(client: IpamClient, engine: Engine) -> None:
    client.create_pool("p4", "10.0.0.0/24", 26)
    client.register_host("h1")
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p4", address="10.0.0.5")])
    with pytest.raises(IntegrityError) as refused:
        _insert_second(engine)
    assert constraint_name(refused.value) == "lease_one_active_per_address"
    # The space is the pool's: a lease cannot claim to be in another one.
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO address_space (name) VALUES ('other')"))
    with pytest.raises(IntegrityError) as elsewhere:
        _insert_second(engine, space="(SELECT id FROM address_space WHERE name = 'other')")
    assert constraint_name(elsewhere.value) == "lease_pool_in_space"
    # A released row of the same address is history, not a holder.
    _insert_second(engine, state="released")


_DATA_AT_0008 = [
    "INSERT INTO host (name) VALUES ('h1'), ('h2')",
    "INSERT INTO pool (space_id, name, cidr, family, host_prefix_length, gateway_policy) "
    "SELECT id, 'p4', '10.0.0.0/24', 4, 26, 'none' FROM address_space WHERE name = 'default'",
    "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit) "
    "SELECT p.id, p.space_id, h.id, 0, '10.0.0.0/26', 4, 63 FROM pool p, host h WHERE h.name = 'h1'",
    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, state, released_at) '
    "SELECT s.id, s.pool_id, s.host_id, o, '10.0.0.0'::inet + o, 'c' || o, 'eth0', "
    "CASE WHEN o = 3 THEN 'released' ELSE 'active' END, CASE WHEN o = 3 THEN now() END "
    "FROM host_subnet s, generate_series(1, 3) o",
]
# At 0008 nothing stops two active leases of 10.0.0.2 (the second under another offset).
_DUPLICATE_AT_0008 = (
    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, state) '
    "SELECT subnet_id, pool_id, (SELECT id FROM host WHERE name = 'h2'), 40, address, 'twin', 'eth1', 'active' "
    "FROM lease WHERE owner_id = 'c2'"
)


@pytest.fixture
def at_0008(database_url: str, engine: Engine) -> Iterator[str]:
    """The database at revision 0008 with two hosts, a subnet and three leases (one released);
    back at head afterwards whatever happened."""
    command.downgrade(alembic_config(database_url), "0008")
    try:
        with engine.begin() as conn:
            for statement in _DATA_AT_0008:
                conn.execute(text(statement))
        yield database_url
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM lease WHERE owner_id = 'twin'"))
        upgrade(database_url)


def _schema(engine: Engine) -> tuple[bool, bool]:
    """Whether lease has space_id, and whether the index exists."""
    with engine.connect() as conn:
        column = conn.execute(
            text("SELECT 1 FROM information_schema.columns WHERE table_name = 'lease' AND column_name = 'space_id'")
        ).first()
        index = conn.execute(text("SELECT to_regclass('lease_one_active_per_address')")).scalar()
    return column is not None, index is not None


def test_migration_0009_upgrades_a_database_with_leases_and_downgrades(at_0008: str, engine: Engine) -> None:
    upgrade(at_0008)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.owner_id, l.state, l.space_id = sp.id FROM lease l, address_space sp "
                "WHERE sp.name = 'default' ORDER BY l.id"
            )
        ).all()
    assert [tuple(r) for r in rows] == [("c1", "active", True), ("c2", "active", True), ("c3", "released", True)]
    assert _schema(engine) == (True, True)
    with pytest.raises(IntegrityError) as refused, engine.begin() as conn:
        conn.execute(text(_DUPLICATE_AT_0008.replace("pool_id,", "pool_id, space_id,", 2)))
    assert constraint_name(refused.value) == "lease_one_active_per_address"

    command.downgrade(alembic_config(at_0008), "0008")
    assert _schema(engine) == (False, False)
    with engine.begin() as conn:  # the pool's foreign key is back as it was
        conn.execute(text("DELETE FROM pool"))
        assert conn.execute(text("SELECT count(*) FROM lease")).scalar() == 0


def test_migration_0009_refuses_duplicates_and_names_them(at_0008: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(_DUPLICATE_AT_0008))
        ids = [row[0] for row in conn.execute(text("SELECT id FROM lease WHERE address = '10.0.0.2' ORDER BY id"))]
    with pytest.raises(RuntimeError) as refused:
        upgrade(at_0008)
    assert str(refused.value) == (
        "migration 0009 cannot add the constraint lease_one_active_per_address: 1 address(es) are held by more "
        "than one active lease. Release all but one lease of each (`ipam lease release --owner ID --interface "
        "NAME`), then upgrade again:\n"
        f"  space default, address 10.0.0.2: lease {ids[0]} (c2/eth0 on host h1), lease {ids[1]} (twin/eth1 on host h2)"
    )
    assert _schema(engine) == (False, False)  # nothing of it applied
