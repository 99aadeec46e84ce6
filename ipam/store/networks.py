"""SQL for Docker network subnets: `host_subnet` rows of kind 'docker', their member hosts and leases.

Network subnets share the host subnet table, so the exclusion constraint
`host_subnet_no_overlap_in_space` keeps them apart from each other and from host subnets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ipam.domain.network import Network
from ipam.store.sql import Sql, run


@dataclass(frozen=True)
class NetworkRow:
    id: int
    pool_id: int
    space_id: int
    cidr: str
    ip_range: str | None
    gateway: str | None


_COLUMNS = (
    "hs.id, hs.pool_id, hs.space_id, CAST(hs.cidr AS text) AS cidr, CAST(hs.ip_range AS text) AS ip_range, "
    "CAST(host(hs.gateway) AS text) AS gateway"
)
_BY_CIDR = Sql(
    f"SELECT {_COLUMNS} FROM host_subnet hs JOIN address_space sp ON sp.id = hs.space_id "
    "WHERE sp.name = :space AND hs.kind = 'docker' AND hs.cidr = CAST(:cidr AS cidr)"
)
# Locks the network: requests for one network take turns (its bump pointer, its gateway).
_LOCK = Sql(f"SELECT {_COLUMNS} FROM host_subnet hs WHERE hs.id = :id FOR NO KEY UPDATE")
# ON CONFLICT without a target also covers the exclusion constraint on overlapping CIDRs.
_INSERT = Sql(
    "INSERT INTO host_subnet AS hs (kind, pool_id, space_id, cidr, ip_range, next_offset, offset_limit) "
    "VALUES ('docker', :pool_id, :space_id, CAST(:cidr AS cidr), CAST(:ip_range AS cidr), :next_offset, "
    f":offset_limit) ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
)
_OVERLAPPING = Sql(
    "SELECT hs.kind, CAST(hs.cidr AS text) AS cidr, h.name AS host FROM host_subnet hs "
    "LEFT JOIN host h ON h.id = hs.host_id WHERE hs.space_id = :space_id AND hs.cidr && CAST(:cidr AS cidr) "
    "ORDER BY hs.cidr LIMIT 1"
)
_TAKEN_IN = Sql(
    "SELECT CAST(cidr AS text) FROM host_subnet WHERE space_id = :space_id AND cidr && CAST(:cidr AS cidr) "
    "ORDER BY cidr"
)
_POOL_HOLDING = Sql(
    "SELECT p.id FROM pool p JOIN address_space sp ON sp.id = p.space_id "
    "WHERE sp.name = :space AND p.cidr >>= CAST(:cidr AS cidr)"
)
# Asking again (dockerd re-creating the network after a failed ReleasePool, or replaying) counts
# as joining now: Docker reconciliation leaves young memberships alone.
_ADD_MEMBER = Sql(
    "INSERT INTO docker_network_host (subnet_id, host_id) VALUES (:subnet_id, :host_id) "
    "ON CONFLICT (subnet_id, host_id) DO UPDATE SET created_at = now()"
)
_REMOVE_MEMBER = Sql("DELETE FROM docker_network_host WHERE subnet_id = :subnet_id AND host_id = :host_id")
_IS_MEMBER = Sql(
    "SELECT EXISTS (SELECT 1 FROM docker_network_host WHERE subnet_id = :subnet_id AND host_id = :host_id)"
)
_OTHER_MEMBERS = Sql("SELECT count(*) FROM docker_network_host WHERE subnet_id = :subnet_id AND host_id <> :host_id")
_DELETE = Sql("DELETE FROM host_subnet WHERE id = :id AND kind = 'docker'")
_SET_GATEWAY = Sql("UPDATE host_subnet SET gateway = CAST(:gateway AS inet) WHERE id = :id")
_BUMP = Sql(
    "UPDATE host_subnet SET next_offset = next_offset + 1 WHERE id = :id AND next_offset < offset_limit "
    "RETURNING next_offset - 1"
)
# The network's oldest released slot inside its range whose cooldown is over.
_REUSE = Sql(
    "UPDATE lease SET state = 'active', host_id = :host_id, owner_id = :owner_prefix || host(lease.address), "
    "interface = :interface, attributes = CAST(:attributes AS jsonb) || "
    "jsonb_build_object('docker.address', host(lease.address)), allocated_at = now(), released_at = NULL "
    "WHERE lease.id = (SELECT l.id FROM lease l JOIN host_subnet hs ON hs.id = l.subnet_id "
    " WHERE l.subnet_id = :subnet_id AND l.state = 'released' AND (hs.ip_range IS NULL OR l.address <<= hs.ip_range)"
    " AND l.released_at <= now() - make_interval(secs => :cooldown) ORDER BY l.released_at LIMIT 1"
    " FOR UPDATE OF l SKIP LOCKED) RETURNING lease.id"
)
_INSERT_LEASE = Sql(
    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, attributes, state) '
    "VALUES (:subnet_id, :pool_id, :host_id, :offset, CAST(:address AS inet), :owner_id, :interface, "
    "CAST(:attributes AS jsonb), 'active') ON CONFLICT (subnet_id, \"offset\") DO UPDATE SET state = 'active', "
    "host_id = EXCLUDED.host_id, owner_id = EXCLUDED.owner_id, interface = EXCLUDED.interface, "
    "attributes = EXCLUDED.attributes, allocated_at = now(), released_at = NULL "
    "WHERE lease.state = 'released' RETURNING lease.id"
)
_RELEASE_IDS = Sql("UPDATE lease SET state = 'released', released_at = now() WHERE id = ANY(:ids) AND state = 'active'")
_RELEASE_HOST = Sql(
    "UPDATE lease SET state = 'released', released_at = now() WHERE subnet_id = :subnet_id "
    "AND host_id = :host_id AND state = 'active' AND interface = 'container'"
)


def _row(row: Any) -> NetworkRow | None:
    return None if row is None else NetworkRow(**row._asdict())


def by_cidr(conn: Connection, space: str, cidr: str) -> NetworkRow | None:
    return _row(run(conn, _BY_CIDR, {"space": space, "cidr": cidr}).first())


def lock(conn: Connection, network_id: int) -> NetworkRow | None:
    """The network locked until commit; None when it was deleted meanwhile."""
    return _row(run(conn, _LOCK, {"id": network_id}).first())


def insert(conn: Connection, values: dict[str, Any]) -> NetworkRow | None:
    """None when the subnet overlaps another network or host subnet of the space."""
    return _row(run(conn, _INSERT, values).first())


def overlapping(conn: Connection, space_id: int, cidr: str) -> Any | None:
    """The first subnet (kind, cidr, host) of the space that overlaps `cidr`."""
    return run(conn, _OVERLAPPING, {"space_id": space_id, "cidr": cidr}).first()


def taken_in(conn: Connection, space_id: int, within: Network) -> list[str]:
    """Every subnet (host or network) of the space overlapping `within`, by address."""
    return [r[0] for r in run(conn, _TAKEN_IN, {"space_id": space_id, "cidr": str(within)})]


def pool_holding(conn: Connection, space: str, cidr: str) -> int | None:
    return run(conn, _POOL_HOLDING, {"space": space, "cidr": cidr}).scalar()


def add_member(conn: Connection, network_id: int, host_id: int) -> None:
    run(conn, _ADD_MEMBER, {"subnet_id": network_id, "host_id": host_id})


def remove_member(conn: Connection, network_id: int, host_id: int) -> None:
    run(conn, _REMOVE_MEMBER, {"subnet_id": network_id, "host_id": host_id})


def is_member(conn: Connection, network_id: int, host_id: int) -> bool:
    return bool(run(conn, _IS_MEMBER, {"subnet_id": network_id, "host_id": host_id}).scalar_one())


def other_members(conn: Connection, network_id: int, host_id: int) -> int:
    return int(run(conn, _OTHER_MEMBERS, {"subnet_id": network_id, "host_id": host_id}).scalar_one())


def delete(conn: Connection, network_id: int) -> None:
    """Delete the network subnet and its leases (its addresses are not a pool block: no free list)."""
    run(conn, _DELETE, {"id": network_id})


def set_gateway(conn: Connection, network_id: int, gateway: str | None) -> None:
    run(conn, _SET_GATEWAY, {"id": network_id, "gateway": gateway})


def bump(conn: Connection, network_id: int) -> int | None:
    """The next never-used offset of the range, or None when the range is used up."""
    return run(conn, _BUMP, {"id": network_id}).scalar()


@dataclass(frozen=True)
class DockerOwner:
    """Who a Docker lease is for. Owner key: `docker:<subnet>#<address>` / role (unique by the address)."""

    owner_prefix: str
    interface: str
    attributes: dict[str, str]


def reuse_released(
    conn: Connection, network: NetworkRow, host_id: int, cooldown: int, owner: DockerOwner
) -> int | None:
    params = {
        "subnet_id": network.id,
        "host_id": host_id,
        "cooldown": cooldown,
        "owner_prefix": owner.owner_prefix,
        "interface": owner.interface,
        "attributes": json.dumps(owner.attributes),
    }
    return run(conn, _REUSE, params).scalar()


def insert_lease(
    conn: Connection, network: NetworkRow, host_id: int, offset: int, address: str, owner: DockerOwner
) -> int | None:
    """None when the slot is held; a released slot is taken over (it was asked for, or the bump reached it)."""
    params = {
        "subnet_id": network.id,
        "pool_id": network.pool_id,
        "host_id": host_id,
        "offset": offset,
        "address": address,
        "owner_id": owner.owner_prefix + address,
        "interface": owner.interface,
        "attributes": json.dumps({**owner.attributes, "docker.address": address}),
    }
    return run(conn, _INSERT_LEASE, params).scalar()


def release_ids(conn: Connection, ids: list[int]) -> None:
    run(conn, _RELEASE_IDS, {"ids": ids})


def release_host_containers(conn: Connection, network_id: int, host_id: int) -> None:
    """Release what the host's containers still hold in the network (releases dockerd failed to send)."""
    run(conn, _RELEASE_HOST, {"subnet_id": network_id, "host_id": host_id})
