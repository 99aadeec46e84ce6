"""SQL for host subnets: claiming blocks of a pool, finding a subnet with room, releasing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ipam.domain.paging import PageRequest
from ipam.domain.records import Borrowed, KeptSubnet
from ipam.store.sql import Sql, run


@dataclass(frozen=True)
class SubnetRow:
    id: int
    pool_id: int
    host_id: int
    idx: int
    cidr: str
    next_offset: int
    offset_limit: int


_COLUMNS = "id, pool_id, host_id, idx, CAST(cidr AS text) AS cidr, next_offset, offset_limit"

_POP_FREE_BLOCK = Sql(
    "DELETE FROM free_block WHERE pool_id = :pool_id AND idx = ("
    " SELECT idx FROM free_block WHERE pool_id = :pool_id ORDER BY idx LIMIT 1 FOR UPDATE SKIP LOCKED"
    ") RETURNING idx"
)
_FORGET_FREE_BLOCK = Sql("DELETE FROM free_block WHERE pool_id = :pool_id AND idx = :idx")
_PUSH_FREE_BLOCK = Sql("INSERT INTO free_block (pool_id, idx) VALUES (:pool_id, :idx) ON CONFLICT DO NOTHING")
# ON CONFLICT without a target also covers the exclusion constraint on overlapping CIDRs.
_INSERT = Sql(
    "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit) "
    "VALUES (:pool_id, :space_id, :host_id, :idx, CAST(:cidr AS cidr), :next_offset, :offset_limit) "
    f"ON CONFLICT DO NOTHING RETURNING {_COLUMNS}"
)
_BY_BLOCK = Sql(f"SELECT {_COLUMNS} FROM host_subnet WHERE pool_id = :pool_id AND idx = :idx")
_WITH_ROOM = Sql(
    f"SELECT {_COLUMNS} FROM host_subnet s WHERE host_id = :host_id AND pool_id = :pool_id AND ("
    " next_offset < offset_limit OR EXISTS (SELECT 1 FROM lease l WHERE l.subnet_id = s.id"
    " AND l.state = 'released' AND l.released_at <= now() - make_interval(secs => :cooldown)))"
    " ORDER BY idx LIMIT 1"
)
_COUNT_FOR_HOST = Sql("SELECT count(*) FROM host_subnet WHERE host_id = :host_id AND pool_id = :pool_id")
# Locks the subnet: concurrent allocations on one host take turns on its bump pointer (NO KEY
# UPDATE, so that leases being inserted into the subnet, which KEY SHARE it, do not block it).
_LOCK_WITH_ROOM = Sql(
    f"SELECT {_COLUMNS} FROM host_subnet WHERE host_id = :host_id AND pool_id = :pool_id "
    "AND next_offset < offset_limit ORDER BY idx LIMIT 1 FOR NO KEY UPDATE"
)
# One round trip: lock the host's first subnet with room and move its pointer by up to :n; the
# offsets [start, stop) are this transaction's to hand out.
_BUMP = Sql(
    "UPDATE host_subnet hs SET next_offset = LEAST(hs.next_offset + :n, hs.offset_limit) FROM ("
    " SELECT id, next_offset FROM host_subnet WHERE host_id = :host_id AND pool_id = :pool_id"
    " AND next_offset < offset_limit ORDER BY idx LIMIT 1 FOR NO KEY UPDATE) AS old "
    "WHERE hs.id = old.id RETURNING hs.id, hs.pool_id, hs.idx, old.next_offset AS start, hs.next_offset AS stop"
)
_SET_NEXT_OFFSET = Sql("UPDATE host_subnet SET next_offset = :next WHERE id = :id")
_BY_CIDR = Sql(
    f"SELECT {_COLUMNS.replace('id,', 'hs.id,', 1)} FROM host_subnet hs "
    "JOIN address_space s ON s.id = hs.space_id WHERE s.name = :space AND hs.kind = 'host' "
    "AND hs.cidr = CAST(:cidr AS cidr)"
)
_ACTIVE_COUNT = Sql("SELECT count(*) FROM lease WHERE subnet_id = :id AND state = 'active'")
_DELETE = Sql("DELETE FROM host_subnet WHERE id = :id")
# FOR UPDATE: new leases in the subnet (whose foreign key takes KEY SHARE) wait until commit.
_LOCK = Sql("SELECT id FROM host_subnet WHERE id = :id FOR UPDATE")
# Other hosts' active leases in a host subnet: addresses they asked for by name (borrowed).
_BORROWED = Sql(
    "SELECT CAST(hs.cidr AS text) AS cidr, sp.name AS space, p.name AS pool, owner.name AS owner, "
    "CAST(host(l.address) AS text) AS address, h.name AS host, l.owner_id, l.interface "
    "FROM lease l JOIN host_subnet hs ON hs.id = l.subnet_id "
    "JOIN pool p ON p.id = hs.pool_id JOIN address_space sp ON sp.id = hs.space_id "
    "JOIN host owner ON owner.id = hs.host_id JOIN host h ON h.id = l.host_id "
    "WHERE l.subnet_id = :id AND l.state = 'active' AND l.host_id <> hs.host_id ORDER BY l.address"
)
_RELEASE_OWN = Sql(
    "UPDATE lease l SET state = 'released', released_at = now() FROM host_subnet hs "
    "WHERE hs.id = l.subnet_id AND l.subnet_id = :id AND l.host_id = hs.host_id AND l.state = 'active' "
    "RETURNING CAST(host(l.address) AS text)"
)
_LIST = Sql(
    "SELECT hs.id, CAST(hs.cidr AS text) AS cidr, hs.idx, p.name AS pool, sp.name AS space, h.name AS host, "
    "hs.created_at, p.id AS pool_id, "
    "(SELECT count(*) FROM lease l WHERE l.subnet_id = hs.id AND l.state = 'active') AS active, "
    "(SELECT count(*) FROM lease l WHERE l.subnet_id = hs.id AND l.state = 'released' "
    " AND l.released_at > now() - make_interval(secs => p.cooldown_seconds)) AS cooling "
    "FROM host_subnet hs JOIN pool p ON p.id = hs.pool_id JOIN address_space sp ON sp.id = hs.space_id "
    "JOIN host h ON h.id = hs.host_id "
    "WHERE (CAST(:pool AS text) IS NULL OR p.name = :pool) "
    "AND (CAST(:host AS text) IS NULL OR h.name = :host) "
    "AND (CAST(:subnet_id AS bigint) IS NULL OR hs.id = :subnet_id) "
    "AND (CAST(:space AS text) IS NULL OR sp.name = :space) "
    "AND (CAST(:address AS inet) IS NULL OR hs.cidr >>= CAST(:address AS inet)) "
    "AND (CAST(:after AS bigint) IS NULL OR hs.id > :after) ORDER BY hs.id LIMIT :limit"
)


def _row(row: Any) -> SubnetRow | None:
    return None if row is None else SubnetRow(**row._asdict())


def pop_free_block(conn: Connection, pool_id: int) -> int | None:
    return run(conn, _POP_FREE_BLOCK, {"pool_id": pool_id}).scalar()


def forget_free_block(conn: Connection, pool_id: int, idx: int) -> None:
    run(conn, _FORGET_FREE_BLOCK, {"pool_id": pool_id, "idx": idx})


def insert_subnet(conn: Connection, values: dict[str, Any]) -> SubnetRow | None:
    """None when the block (or an overlapping CIDR) was taken concurrently."""
    return _row(run(conn, _INSERT, values).first())


def subnet_of_block(conn: Connection, pool_id: int, idx: int) -> SubnetRow | None:
    return _row(run(conn, _BY_BLOCK, {"pool_id": pool_id, "idx": idx}).first())


def subnet_with_room(conn: Connection, host_id: int, pool_id: int, cooldown: int) -> SubnetRow | None:
    params = {"host_id": host_id, "pool_id": pool_id, "cooldown": cooldown}
    return _row(run(conn, _WITH_ROOM, params).first())


def count_for_host(conn: Connection, host_id: int, pool_id: int) -> int:
    return int(run(conn, _COUNT_FOR_HOST, {"host_id": host_id, "pool_id": pool_id}).scalar_one())


def lock_subnet_with_room(conn: Connection, host_id: int, pool_id: int) -> SubnetRow | None:
    """The host's first subnet in the pool whose bump pointer has room, locked until commit."""
    return _row(run(conn, _LOCK_WITH_ROOM, {"host_id": host_id, "pool_id": pool_id}).first())


@dataclass(frozen=True)
class Bump:
    subnet_id: int
    pool_id: int
    idx: int
    start: int
    stop: int


def bump(conn: Connection, host_id: int, pool_id: int, count: int) -> Bump | None:
    """Take up to `count` never-used offsets of the host's first subnet with room (locked until commit)."""
    row = run(conn, _BUMP, {"host_id": host_id, "pool_id": pool_id, "n": count}).first()
    return None if row is None else Bump(row.id, row.pool_id, row.idx, row.start, row.stop)


def set_next_offset(conn: Connection, subnet_id: int, next_offset: int) -> None:
    run(conn, _SET_NEXT_OFFSET, {"id": subnet_id, "next": next_offset})


def subnet_by_cidr(conn: Connection, space: str, cidr: str) -> SubnetRow | None:
    return _row(run(conn, _BY_CIDR, {"space": space, "cidr": cidr}).first())


def active_count(conn: Connection, subnet_id: int) -> int:
    return int(run(conn, _ACTIVE_COUNT, {"id": subnet_id}).scalar_one())


def lock(conn: Connection, subnet_id: int) -> None:
    run(conn, _LOCK, {"id": subnet_id})


def kept_for_borrowers(conn: Connection, subnet_id: int) -> KeptSubnet | None:
    """The subnet with the other hosts' active leases in it, or None when there are none (lock
    the subnet first, so that none is added before commit)."""
    rows = list(run(conn, _BORROWED, {"id": subnet_id}))
    if not rows:
        return None
    cidr, space, pool, host = rows[0][:4]
    return KeptSubnet(cidr, space, pool, host, [Borrowed(*row[4:]) for row in rows])


def release_own(conn: Connection, subnet_id: int) -> list[str]:
    """Release the active leases of the subnet's host in it; their addresses."""
    return [row[0] for row in run(conn, _RELEASE_OWN, {"id": subnet_id})]


def delete_subnet(conn: Connection, subnet: SubnetRow) -> None:
    """Delete a subnet (and its leases) and give its block back to the pool."""
    run(conn, _DELETE, {"id": subnet.id})
    run(conn, _PUSH_FREE_BLOCK, {"pool_id": subnet.pool_id, "idx": subnet.idx})


@dataclass(frozen=True)
class SubnetFilter:
    pool: str | None = None
    host: str | None = None
    space: str | None = None
    address: str | None = None  # the subnet holding this address
    subnet_id: int | None = None


def list_subnets(conn: Connection, where: SubnetFilter, page: PageRequest) -> list[Any]:
    return list(run(conn, _LIST, {**where.__dict__, "after": page.after, "limit": page.size + 1}))
