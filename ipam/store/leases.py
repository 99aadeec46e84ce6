"""SQL for leases: the owner-key lookup, reuse of released slots, inserts, releases, reads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from ipam.domain.paging import PageRequest

# Everything a LeaseRecord needs, joined from the lease's subnet, pool, space and host.
_VIEW = (
    "SELECT l.id, CAST(host(l.address) AS text) AS address, p.host_prefix_length AS prefix_length, "
    "CAST(hs.cidr AS text) AS subnet, hs.idx, p.name AS pool, sp.name AS space, h.name AS host, "
    "l.owner_id, l.interface, l.state, l.allocated_at, l.released_at, p.family, l.attributes, "
    "p.gateway_policy, l.pool_id, l.host_id "
    "FROM lease l JOIN host_subnet hs ON hs.id = l.subnet_id JOIN pool p ON p.id = l.pool_id "
    "JOIN address_space sp ON sp.id = p.space_id JOIN host h ON h.id = l.host_id "
)
_RETURNING = "RETURNING lease.id"

_ACTIVE_FOR_OWNER = text(
    _VIEW + "WHERE l.pool_id = :pool_id AND l.owner_id = :owner_id AND l.interface = :interface "
    "AND l.state = 'active'"
)
_REUSE = text(
    "UPDATE lease SET state = 'active', host_id = :host_id, owner_id = :owner_id, interface = :interface, "
    "attributes = :attributes, allocated_at = now(), released_at = NULL WHERE id = ("
    " SELECT l.id FROM lease l WHERE l.subnet_id IN ("
    "  SELECT id FROM host_subnet WHERE host_id = :host_id AND pool_id = :pool_id)"
    " AND l.state = 'released' AND l.released_at <= now() - make_interval(secs => :cooldown)"
    " ORDER BY l.released_at LIMIT 1 FOR UPDATE SKIP LOCKED"
    f") {_RETURNING}"
).bindparams(bindparam("attributes", type_=JSONB))
_INSERT = text(
    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, attributes, '
    "state) VALUES (:subnet_id, :pool_id, :host_id, :offset, CAST(:address AS inet), :owner_id, :interface, "
    f":attributes, 'active') ON CONFLICT (subnet_id, \"offset\") DO NOTHING {_RETURNING}"
).bindparams(bindparam("attributes", type_=JSONB))
# A specific address may take over a released slot whatever its cooldown: it was asked for by name.
_CLAIM_SPECIFIC = text(
    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, attributes, '
    "state) VALUES (:subnet_id, :pool_id, :host_id, :offset, CAST(:address AS inet), :owner_id, :interface, "
    ":attributes, 'active') ON CONFLICT (subnet_id, \"offset\") DO UPDATE SET state = 'active', "
    "host_id = EXCLUDED.host_id, owner_id = EXCLUDED.owner_id, interface = EXCLUDED.interface, "
    "attributes = EXCLUDED.attributes, allocated_at = now(), released_at = NULL "
    f"WHERE lease.state = 'released' {_RETURNING}"
).bindparams(bindparam("attributes", type_=JSONB))
_HOLDER = text(_VIEW + 'WHERE l.subnet_id = :subnet_id AND l."offset" = :offset')
_RELEASE_OWNER = text(
    "UPDATE lease SET state = 'released', released_at = now() WHERE owner_id = :owner_id "
    "AND interface = :interface AND state = 'active' RETURNING id"
)
_RELEASE_ADDRESS = text(
    "UPDATE lease l SET state = 'released', released_at = now() FROM pool p, address_space sp "
    "WHERE l.address = CAST(:address AS inet) AND l.state = 'active' AND p.id = l.pool_id "
    "AND sp.id = p.space_id AND sp.name = :space RETURNING l.id"
)
_BY_IDS = text(_VIEW + "WHERE l.id = ANY(:ids) ORDER BY l.id")
_AT_ADDRESS = text(
    _VIEW + "WHERE l.address = CAST(:address AS inet) AND sp.name = :space "
    "ORDER BY (l.state = 'active') DESC, l.released_at DESC NULLS FIRST LIMIT 1"
)
_LIST = text(
    _VIEW + "WHERE (CAST(:pool AS text) IS NULL OR p.name = :pool) "
    "AND (CAST(:host AS text) IS NULL OR h.name = :host) "
    "AND (CAST(:owner_id AS text) IS NULL OR l.owner_id = :owner_id) "
    "AND (CAST(:interface AS text) IS NULL OR l.interface = :interface) "
    "AND (CAST(:state AS text) IS NULL OR l.state = :state) "
    "AND (CAST(:after AS bigint) IS NULL OR l.id > :after) ORDER BY l.id LIMIT :limit"
)
_POOL_HOLDING = text(
    "SELECT p.name FROM pool p JOIN address_space sp ON sp.id = p.space_id "
    "WHERE sp.name = :space AND p.cidr >>= CAST(:address AS inet)"
)


def active_for_owner(conn: Connection, pool_id: int, owner_id: str, interface: str) -> Any | None:
    params = {"pool_id": pool_id, "owner_id": owner_id, "interface": interface}
    return conn.execute(_ACTIVE_FOR_OWNER, params).first()


def reuse_released(conn: Connection, values: dict[str, Any]) -> Any | None:
    """Take the host's oldest released slot in the pool whose cooldown is over, if any."""
    return conn.execute(_REUSE, values).first()


def insert_lease(conn: Connection, values: dict[str, Any]) -> Any | None:
    """None when the slot is already taken (a specific request got there first)."""
    return conn.execute(_INSERT, values).first()


def claim_specific(conn: Connection, values: dict[str, Any]) -> Any | None:
    """None when the slot is held by an active lease."""
    return conn.execute(_CLAIM_SPECIFIC, values).first()


def holder(conn: Connection, subnet_id: int, offset: int) -> Any | None:
    return conn.execute(_HOLDER, {"subnet_id": subnet_id, "offset": offset}).first()


def release_owner(conn: Connection, owner_id: str, interface: str) -> list[Any]:
    ids = conn.execute(_RELEASE_OWNER, {"owner_id": owner_id, "interface": interface}).scalars().all()
    return by_ids(conn, list(ids))


def release_address(conn: Connection, space: str, address: str) -> list[Any]:
    ids = conn.execute(_RELEASE_ADDRESS, {"space": space, "address": address}).scalars().all()
    return by_ids(conn, list(ids))


def by_ids(conn: Connection, ids: list[int]) -> list[Any]:
    return list(conn.execute(_BY_IDS, {"ids": ids})) if ids else []


def at_address(conn: Connection, space: str, address: str) -> Any | None:
    return conn.execute(_AT_ADDRESS, {"space": space, "address": address}).first()


def pool_holding(conn: Connection, space: str, address: str) -> str | None:
    return conn.execute(_POOL_HOLDING, {"space": space, "address": address}).scalar()


def list_leases(conn: Connection, filters: dict[str, Any], page: PageRequest) -> list[Any]:
    return list(conn.execute(_LIST, {**filters, "after": page.after, "limit": page.size + 1}))
