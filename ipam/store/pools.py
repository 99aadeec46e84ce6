"""SQL for pools: create/read/update/delete, the block bump pointer and usage counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ipam.domain.errors import AlreadyExists, FailedPrecondition, NotFound
from ipam.domain.paging import PageRequest
from ipam.domain.records import PoolRecord
from ipam.store.sql import Sql, run
from ipam.store.tx import constraint_name

_COLUMNS = (
    "p.id, p.name, s.name AS space, p.space_id, CAST(p.cidr AS text) AS cidr, p.family, "
    "p.host_prefix_length, "
    "CAST(p.reserved_cidrs AS text[]) AS reserved_cidrs, p.host_selector, p.disabled, p.cooldown_seconds, "
    "p.max_subnets_per_host, p.gateway_policy, p.created_at, p.updated_at"
)
_FROM = "FROM pool p JOIN address_space s ON s.id = p.space_id"

_INSERT = Sql(
    "INSERT INTO pool (space_id, name, cidr, family, host_prefix_length, reserved_cidrs, host_selector, "
    "disabled, cooldown_seconds, max_subnets_per_host, gateway_policy) VALUES (:space_id, :name, "
    "CAST(:cidr AS cidr), :family, :host_prefix_length, CAST(:reserved_cidrs AS cidr[]), :host_selector, :disabled, "
    ":cooldown_seconds, :max_subnets_per_host, :gateway_policy) RETURNING id"
)
_NAME_TAKEN = Sql("SELECT 1 FROM pool WHERE name = :name")
_OVERLAPPING = Sql(
    "SELECT name, CAST(cidr AS text) FROM pool WHERE space_id = :space_id AND cidr && CAST(:cidr AS cidr) "
    "ORDER BY name LIMIT 1"
)
_GET = Sql(f"SELECT {_COLUMNS} {_FROM} WHERE p.name = :name")
_GET_BY_ID = Sql(f"SELECT {_COLUMNS} {_FROM} WHERE p.id = :id")
_LIST = Sql(
    f"SELECT {_COLUMNS} {_FROM} WHERE (CAST(:space AS text) IS NULL OR s.name = :space) "
    "AND (CAST(:after AS text) IS NULL OR p.name > :after) ORDER BY p.name LIMIT :limit"
)
_CANDIDATES = Sql(
    f"SELECT {_COLUMNS} {_FROM} WHERE p.space_id = :space_id AND NOT p.disabled "
    "AND (CAST(:family AS int) IS NULL OR p.family = :family) ORDER BY p.created_at, p.id"
)
# NO KEY UPDATE: does not conflict with the KEY SHARE locks that inserts referencing the pool take.
_LOCK_NEXT_BLOCK = Sql("SELECT next_block FROM pool WHERE id = :id FOR NO KEY UPDATE")
_SET_NEXT_BLOCK = Sql("UPDATE pool SET next_block = :next WHERE id = :id")
_DELETE = Sql("DELETE FROM pool WHERE id = :id")
_COUNTS = Sql(
    "SELECT "
    "(SELECT count(*) FROM lease WHERE pool_id = :id AND state = 'active') AS active, "
    "(SELECT count(*) FROM lease WHERE pool_id = :id AND state = 'released' "
    " AND released_at > now() - make_interval(secs => :cooldown)) AS cooling, "
    "(SELECT count(*) FROM host_subnet WHERE pool_id = :id AND kind = 'host') AS subnets, "
    "(SELECT count(*) FROM host_subnet hs JOIN pool p ON p.id = hs.pool_id WHERE hs.pool_id = :id "
    " AND hs.kind = 'host' AND hs.cidr <<= ANY(p.reserved_cidrs)) AS reserved_subnets"
)
_FORGET_RELEASED_IN = Sql(
    "DELETE FROM lease WHERE pool_id = :id AND state = 'released' AND address <<= ANY(CAST(:cidrs AS cidr[]))"
)
_ACTIVE_IN = Sql(
    "SELECT CAST(address AS text) FROM lease WHERE pool_id = :id AND state = 'active' "
    "AND address <<= ANY(CAST(:cidrs AS cidr[])) ORDER BY address LIMIT 1"
)

UPDATABLE = {"disabled", "cooldown_seconds", "max_subnets_per_host", "host_selector", "reserved_cidrs"}


def insert_pool(conn: Connection, values: dict[str, Any]) -> int:
    """Insert a pool; a duplicate name or an overlap in its space becomes AlreadyExists."""
    try:
        with conn.begin_nested():
            return int(run(conn, _INSERT, values).scalar_one())
    except IntegrityError as exc:
        if constraint_name(exc) == "pool_no_overlap_in_space":
            other = run(conn, _OVERLAPPING, values).first()
            detail = f'pool "{other[0]}" ({other[1]})' if other else "another pool"
            raise AlreadyExists(f"cidr: {values['cidr']} overlaps {detail} in the same address space") from None
        if run(conn, _NAME_TAKEN, values).first():
            raise AlreadyExists(f'pool "{values["name"]}" already exists') from None
        raise


def _record(row: Any) -> PoolRecord:
    values = dict(row._asdict())
    values["reserved_cidrs"] = list(values["reserved_cidrs"])
    return PoolRecord(**values)


def get_pool(conn: Connection, name: str) -> PoolRecord:
    row = run(conn, _GET, {"name": name}).first()
    if row is None:
        raise NotFound(f'pool "{name}" does not exist')
    return _record(row)


def get_pool_by_id(conn: Connection, pool_id: int) -> PoolRecord:
    return _record(run(conn, _GET_BY_ID, {"id": pool_id}).one())


def list_pools(conn: Connection, space: str | None, page: PageRequest) -> list[PoolRecord]:
    rows = run(conn, _LIST, {"space": space, "after": page.after, "limit": page.size + 1})
    return [_record(row) for row in rows]


def enabled_pools(conn: Connection, space_id: int, family: int | None) -> list[PoolRecord]:
    """Enabled pools of a space in creation order: the candidates for selector matching."""
    return [_record(row) for row in run(conn, _CANDIDATES, {"space_id": space_id, "family": family})]


def update_pool(conn: Connection, pool_id: int, changes: dict[str, Any]) -> None:
    if not changes:
        return
    assert set(changes) <= UPDATABLE, changes
    casts = {"reserved_cidrs": "CAST(:reserved_cidrs AS cidr[])"}
    assignments = ", ".join(f"{column} = {casts.get(column, ':' + column)}" for column in sorted(changes))
    statement = Sql(f"UPDATE pool SET {assignments}, updated_at = now() WHERE id = :id")
    run(conn, statement, {**changes, "id": pool_id})


def first_active_address_in(conn: Connection, pool_id: int, cidrs: list[str]) -> str | None:
    return run(conn, _ACTIVE_IN, {"id": pool_id, "cidrs": cidrs}).scalar()


def forget_released_in(conn: Connection, pool_id: int, cidrs: list[str]) -> None:
    """Drop released slots inside newly reserved CIDRs, so that they are never reused."""
    run(conn, _FORGET_RELEASED_IN, {"id": pool_id, "cidrs": cidrs})


def delete_pool(conn: Connection, pool: PoolRecord, *, force: bool) -> None:
    active = counts(conn, pool).active
    if active and not force:
        raise FailedPrecondition(
            f'pool "{pool.name}" has {active} active lease(s); release them first or delete with force'
        )
    run(conn, _DELETE, {"id": pool.id})


@dataclass(frozen=True)
class PoolCounts:
    active: int  # leases
    cooling: int  # released leases still in their cooldown
    subnets: int  # host subnets held
    reserved_subnets: int  # host subnets held inside a reserved CIDR (reserved after they were taken)


def counts(conn: Connection, pool: PoolRecord) -> PoolCounts:
    row = run(conn, _COUNTS, {"id": pool.id, "cooldown": pool.cooldown_seconds}).one()
    return PoolCounts(int(row.active), int(row.cooling), int(row.subnets), int(row.reserved_subnets))


def lock_next_block(conn: Connection, pool_id: int) -> int:
    return int(run(conn, _LOCK_NEXT_BLOCK, {"id": pool_id}).scalar_one())


def set_next_block(conn: Connection, pool_id: int, next_block: int) -> None:
    run(conn, _SET_NEXT_BLOCK, {"id": pool_id, "next": next_block})
