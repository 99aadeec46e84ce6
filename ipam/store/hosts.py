"""SQL for hosts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from ipam.domain.errors import FailedPrecondition, NotFound
from ipam.domain.liveness import DEFAULT_TTL_SECONDS, host_state
from ipam.domain.paging import PageRequest
from ipam.domain.records import HostRecord
from ipam.store.sql import Sql, run

# now(): the database's clock decides liveness, the same for every replica.
_COLUMNS = "name, labels, created_at, last_seen_at, heartbeat_ttl_seconds, drained_at, now()"
# A TTL of NULL keeps the host's (or, for a new host, the default): `ipam host update` must not
# reset what the agent registered.
_UPSERT = Sql(
    "INSERT INTO host (name, labels, heartbeat_ttl_seconds) "
    "VALUES (:name, :labels, coalesce(CAST(:ttl AS integer), :default_ttl)) "
    "ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, "
    "heartbeat_ttl_seconds = coalesce(CAST(:ttl AS integer), host.heartbeat_ttl_seconds), last_seen_at = now() "
    f"RETURNING {_COLUMNS}"
)
# Several registrations in one statement (heartbeats coalesced: ipam.service.hosts), names distinct,
# rows taken in name order so that concurrent batches lock hosts in the same order. As above, a
# NULL TTL keeps the host's: the update looks up the TTL asked for that name.
_UPSERT_MANY = Sql(
    "WITH asked AS (SELECT * FROM unnest(CAST(:names AS text[]), CAST(:labels AS jsonb[]), "
    "CAST(:ttls AS integer[])) AS a(name, labels, ttl)) "
    "INSERT INTO host (name, labels, heartbeat_ttl_seconds) "
    "SELECT name, labels, coalesce(ttl, :default_ttl) FROM asked ORDER BY name "
    "ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, heartbeat_ttl_seconds = "
    "coalesce((SELECT ttl FROM asked WHERE asked.name = EXCLUDED.name), host.heartbeat_ttl_seconds), "
    f"last_seen_at = now() RETURNING {_COLUMNS}"
)
_GET = Sql(f"SELECT {_COLUMNS} FROM host WHERE name = :name")
_ID_AND_LABELS = Sql("SELECT id, labels, drained_at FROM host WHERE name = :name")
# NO KEY UPDATE: does not conflict with the KEY SHARE locks that inserts referencing the host take.
_LOCK = Sql("SELECT id FROM host WHERE id = :id FOR NO KEY UPDATE")
_LOCK_BY_NAME = Sql(f"SELECT id, {_COLUMNS} FROM host WHERE name = :name FOR UPDATE")
_LIST = Sql(
    f"SELECT {_COLUMNS} FROM host WHERE CAST(:after AS text) IS NULL OR name > :after ORDER BY name LIMIT :limit"
)
_SET_DRAINED = Sql(
    "UPDATE host SET drained_at = CASE WHEN :drained THEN coalesce(drained_at, now()) END "
    f"WHERE name = :name RETURNING {_COLUMNS}"
)
# A host that endpoint history refers to stays (drained, holding nothing): whois must still name it.
# A host subnet still held (kept for other hosts' leases in it) keeps its host too.
_DELETE_UNLESS_IN_HISTORY = Sql(
    "DELETE FROM host WHERE id = :id AND NOT EXISTS (SELECT 1 FROM endpoint WHERE host_id = :id) "
    "AND NOT EXISTS (SELECT 1 FROM host_subnet WHERE host_id = :id) RETURNING id"
)
_KEEP_DRAINED = Sql("UPDATE host SET drained_at = coalesce(drained_at, now()) WHERE id = :id")


def _record(row: Any, grace_seconds: int) -> HostRecord:
    name, labels, created_at, last_seen_at, ttl, drained_at, now = row
    state = host_state(last_seen_at, ttl, grace_seconds, now)
    return HostRecord(name, dict(labels), created_at, last_seen_at, ttl, drained_at, state)


def upsert_host(conn: Connection, name: str, labels: dict[str, str], ttl: int | None, grace_seconds: int) -> HostRecord:
    params = {"name": name, "labels": Jsonb(labels), "ttl": ttl, "default_ttl": DEFAULT_TTL_SECONDS}
    row = run(conn, _UPSERT, params).one()
    return _record(row, grace_seconds)


def upsert_hosts(
    conn: Connection, hosts: Sequence[tuple[str, dict[str, str], int | None]], grace_seconds: int
) -> dict[str, HostRecord]:
    """Register (name, labels, ttl) for each of `hosts` (distinct names) in one statement."""
    params = {
        "names": [name for name, _, _ in hosts],
        "labels": [Jsonb(labels) for _, labels, _ in hosts],
        "ttls": [ttl for _, _, ttl in hosts],
        "default_ttl": DEFAULT_TTL_SECONDS,
    }
    records = [_record(row, grace_seconds) for row in run(conn, _UPSERT_MANY, params)]
    return {record.name: record for record in records}


def get_host(conn: Connection, name: str, grace_seconds: int) -> HostRecord:
    row = run(conn, _GET, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return _record(row, grace_seconds)


def lock_host_by_name(conn: Connection, name: str, grace_seconds: int) -> tuple[int, HostRecord]:
    """The host's id and record, locked against heartbeats and allocations until commit."""
    row = run(conn, _LOCK_BY_NAME, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return int(row[0]), _record(row[1:], grace_seconds)


def host_id_and_labels(conn: Connection, name: str, *, allow_drained: bool = False) -> tuple[int, dict[str, str]]:
    """The host to allocate to; a drained host takes no new allocations."""
    row = run(conn, _ID_AND_LABELS, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    if row[2] is not None and not allow_drained:
        raise FailedPrecondition(
            f'host "{name}" is drained (since {row[2]:%Y-%m-%d %H:%M:%S %Z}): no new allocations; '
            f"`ipam host undrain {name}` to allow them again"
        )
    return int(row[0]), dict(row[1])


def lock_host(conn: Connection, host_id: int) -> None:
    """Serialize subnet acquisition per host so concurrent requests don't each claim a block."""
    run(conn, _LOCK, {"id": host_id})


def list_hosts(conn: Connection, page: PageRequest, grace_seconds: int) -> list[HostRecord]:
    rows = run(conn, _LIST, {"after": page.after, "limit": page.size + 1})
    return [_record(row, grace_seconds) for row in rows]


def set_drained(conn: Connection, name: str, drained: bool, grace_seconds: int) -> HostRecord:
    row = run(conn, _SET_DRAINED, {"name": name, "drained": drained}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return _record(row, grace_seconds)


def delete_host(conn: Connection, host_id: int) -> bool:
    """Forget the host; False when the endpoint history refers to it or it still has a host subnet
    (kept for other hosts' leases): it stays, drained."""
    if run(conn, _DELETE_UNLESS_IN_HISTORY, {"id": host_id}).first() is not None:
        return True
    run(conn, _KEEP_DRAINED, {"id": host_id})
    return False
