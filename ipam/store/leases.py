"""SQL for leases: the owner-key lookup, reuse of released slots, inserts, releases, reads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from ipam.domain.paging import PageRequest
from ipam.store.sql import Sql, run
from ipam.store.subnets import Bump


@dataclass(frozen=True)
class NewOwner:
    owner_id: str
    interface: str
    attributes: dict[str, str]


# Everything a LeaseRecord needs, joined from the lease's subnet, pool, space and host.
_VIEW_COLUMNS = (
    "l.id, CAST(host(l.address) AS text) AS address, masklen(hs.cidr) AS prefix_length, "
    "CAST(hs.cidr AS text) AS subnet, hs.idx, p.name AS pool, sp.name AS space, h.name AS host, "
    "l.owner_id, l.interface, l.state, l.allocated_at, l.released_at, p.family, l.attributes, "
    "p.gateway_policy, l.pool_id, l.host_id, hs.kind AS subnet_kind, CAST(host(hs.gateway) AS text) AS network_gateway"
)
_VIEW = (
    f"SELECT {_VIEW_COLUMNS} "
    "FROM lease l JOIN host_subnet hs ON hs.id = l.subnet_id JOIN pool p ON p.id = l.pool_id "
    "JOIN address_space sp ON sp.id = p.space_id JOIN host h ON h.id = l.host_id "
)

_ACTIVE_FOR_OWNERS = Sql(_VIEW + "WHERE l.state = 'active' AND l.owner_id = ANY(CAST(:owners AS text[]))")
# The host's oldest released slots of the pool whose cooldown is over, one per requested owner.
_REUSE_MANY = Sql(
    # Per subnet an ordered scan of lease_reusable that stops after :n rows, however many are released.
    "WITH picked AS ("
    " SELECT c.id FROM host_subnet hs CROSS JOIN LATERAL ("
    "  SELECT l.id, l.released_at FROM lease l WHERE l.subnet_id = hs.id AND l.state = 'released'"
    "  AND l.released_at <= now() - make_interval(secs => :cooldown)"
    "  ORDER BY l.released_at LIMIT :n FOR UPDATE OF l SKIP LOCKED) c"
    " WHERE hs.host_id = :host_id AND hs.pool_id = :pool_id ORDER BY c.released_at LIMIT :n),"
    " numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM picked),"
    " wanted AS (SELECT * FROM unnest(CAST(:owners AS text[]), CAST(:interfaces AS text[]),"
    "  CAST(:attributes AS text[])) WITH ORDINALITY AS w(owner_id, interface, attributes, rn)) "
    "UPDATE lease SET state = 'active', host_id = :host_id, owner_id = wanted.owner_id, "
    "interface = wanted.interface, attributes = CAST(wanted.attributes AS jsonb), allocated_at = now(), "
    "released_at = NULL FROM numbered JOIN wanted USING (rn), host_subnet hs "
    "WHERE lease.id = numbered.id AND hs.id = lease.subnet_id "
    "RETURNING lease.id, CAST(host(lease.address) AS text) AS address, hs.idx, lease.owner_id, lease.interface, "
    "lease.allocated_at"
)
_INSERT_MANY = Sql(
    'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, '
    "attributes, state) SELECT :subnet_id, :pool_id, (SELECT space_id FROM pool WHERE id = :pool_id), :host_id, "
    "n.off, n.address, n.owner_id, n.interface, "
    "CAST(n.attributes AS jsonb), 'active' FROM unnest(CAST(:offsets AS bigint[]), "
    "CAST(:addresses AS inet[]), CAST(:owners AS text[]), CAST(:interfaces AS text[]), "
    "CAST(:attributes AS text[])) AS n(off, address, owner_id, interface, attributes) "
    'ON CONFLICT (subnet_id, "offset") DO NOTHING '
    "RETURNING id, CAST(host(address) AS text) AS address, owner_id, interface, allocated_at"
)
# A specific address may take over a released slot whatever its cooldown: it was asked for by name.
_CLAIM_SPECIFIC = Sql(
    'INSERT INTO lease (subnet_id, pool_id, space_id, host_id, "offset", address, owner_id, interface, '
    "attributes, state) VALUES (:subnet_id, :pool_id, (SELECT space_id FROM pool WHERE id = :pool_id), :host_id, "
    ":offset, CAST(:address AS inet), :owner_id, :interface, "
    ":attributes, 'active') ON CONFLICT (subnet_id, \"offset\") DO UPDATE SET state = 'active', "
    "host_id = EXCLUDED.host_id, owner_id = EXCLUDED.owner_id, interface = EXCLUDED.interface, "
    "attributes = EXCLUDED.attributes, allocated_at = now(), released_at = NULL "
    "WHERE lease.state = 'released' RETURNING lease.id"
)
_HOLDER = Sql(_VIEW + 'WHERE l.subnet_id = :subnet_id AND l."offset" = :offset')
_RELEASE = (
    "UPDATE lease l SET state = 'released', released_at = now() "
    "FROM host_subnet hs, pool p, address_space sp, host h "
    "WHERE hs.id = l.subnet_id AND p.id = l.pool_id AND sp.id = p.space_id AND h.id = l.host_id "
    f"AND l.state = 'active' AND {{where}} RETURNING {_VIEW_COLUMNS}"
)
_RELEASE_OWNER = Sql(_RELEASE.format(where="l.owner_id = :owner_id AND l.interface = :interface"))
_RELEASE_ADDRESS = Sql(_RELEASE.format(where="l.address = CAST(:address AS inet) AND sp.name = :space"))
_BY_IDS = Sql(_VIEW + "WHERE l.id = ANY(:ids) ORDER BY l.id")
_AT_ADDRESS = Sql(
    _VIEW + "WHERE l.address = CAST(:address AS inet) AND sp.name = :space "
    "ORDER BY (l.state = 'active') DESC, l.released_at DESC NULLS FIRST LIMIT 1"
)
_LIST = Sql(
    _VIEW + "WHERE (CAST(:pool AS text) IS NULL OR p.name = :pool) "
    "AND (CAST(:host AS text) IS NULL OR h.name = :host) "
    "AND (CAST(:owner_id AS text) IS NULL OR l.owner_id = :owner_id) "
    "AND (CAST(:interface AS text) IS NULL OR l.interface = :interface) "
    "AND (CAST(:state AS text) IS NULL OR l.state = :state) "
    "AND (CAST(:after AS bigint) IS NULL OR l.id > :after) ORDER BY l.id LIMIT :limit"
)
_POOL_HOLDING = Sql(
    "SELECT p.name FROM pool p JOIN address_space sp ON sp.id = p.space_id "
    "WHERE sp.name = :space AND p.cidr >>= CAST(:address AS inet)"
)


def active_for_owners(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], list[Any]]:
    """The active leases (in any pool) of these owner keys, by owner key."""
    wanted = set(keys)
    found: dict[tuple[str, str], list[Any]] = {}
    for row in run(conn, _ACTIVE_FOR_OWNERS, {"owners": sorted({k[0] for k in keys})}):
        if (key := (row.owner_id, row.interface)) in wanted:
            found.setdefault(key, []).append(row)
    return found


def _owner_arrays(owners: list[NewOwner]) -> dict[str, list[str]]:
    return {
        "owners": [o.owner_id for o in owners],
        "interfaces": [o.interface for o in owners],
        "attributes": [json.dumps(o.attributes) for o in owners],
    }


def reuse_released(conn: Connection, pool_id: int, host_id: int, cooldown: int, owners: list[NewOwner]) -> list[Any]:
    """Give released slots of the host (oldest first, past cooldown) to as many owners as possible."""
    params = {"pool_id": pool_id, "host_id": host_id, "cooldown": cooldown, "n": len(owners)}
    return list(run(conn, _REUSE_MANY, {**params, **_owner_arrays(owners)}))


def insert_leases(
    conn: Connection, bumped: Bump, host_id: int, slots: list[tuple[int, str]], owners: list[NewOwner]
) -> list[Any]:
    """Insert one lease per (offset, address) slot; slots taken meanwhile are skipped."""
    params = {
        "subnet_id": bumped.subnet_id,
        "pool_id": bumped.pool_id,
        "host_id": host_id,
        "offsets": [s[0] for s in slots],
        "addresses": [s[1] for s in slots],
    }
    return list(run(conn, _INSERT_MANY, {**params, **_owner_arrays(owners)}))


def claim_specific(conn: Connection, values: dict[str, Any]) -> Any | None:
    """None when the slot is held by an active lease."""
    params = {**values, "offset": stored_offset(values["offset"]), "attributes": Jsonb(values["attributes"])}
    return run(conn, _CLAIM_SPECIFIC, params).first()


def holder(conn: Connection, subnet_id: int, offset: int) -> Any | None:
    return run(conn, _HOLDER, {"subnet_id": subnet_id, "offset": stored_offset(offset)}).first()


def stored_offset(offset: int) -> int:
    """The offset as the signed 64-bit column holds it: the upper half of an IPv6 /64 wraps around.

    Bump pointers never get that far; only requests for such specific addresses do.
    """
    return offset - 2**64 if offset >= 2**63 else offset


def release_owner(conn: Connection, owner_id: str, interface: str) -> list[Any]:
    return list(run(conn, _RELEASE_OWNER, {"owner_id": owner_id, "interface": interface}))


def release_address(conn: Connection, space: str, address: str) -> list[Any]:
    return list(run(conn, _RELEASE_ADDRESS, {"space": space, "address": address}))


def by_ids(conn: Connection, ids: list[int]) -> list[Any]:
    return list(run(conn, _BY_IDS, {"ids": ids})) if ids else []


def at_address(conn: Connection, space: str, address: str) -> Any | None:
    return run(conn, _AT_ADDRESS, {"space": space, "address": address}).first()


def pool_holding(conn: Connection, space: str, address: str) -> str | None:
    return run(conn, _POOL_HOLDING, {"space": space, "address": address}).scalar()


def list_leases(conn: Connection, filters: dict[str, Any], page: PageRequest) -> list[Any]:
    return list(run(conn, _LIST, {**filters, "after": page.after, "limit": page.size + 1}))
