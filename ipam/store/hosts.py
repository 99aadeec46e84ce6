"""SQL for hosts."""

from __future__ import annotations

from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from ipam.domain.errors import NotFound
from ipam.domain.paging import PageRequest
from ipam.domain.records import HostRecord
from ipam.store.sql import Sql, run

_COLUMNS = "name, labels, created_at, last_seen_at"
_UPSERT = Sql(
    "INSERT INTO host (name, labels) VALUES (:name, :labels) "
    "ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, last_seen_at = now() "
    f"RETURNING {_COLUMNS}"
)
_GET = Sql(f"SELECT {_COLUMNS} FROM host WHERE name = :name")
_ID_AND_LABELS = Sql("SELECT id, labels FROM host WHERE name = :name")
# NO KEY UPDATE: does not conflict with the KEY SHARE locks that inserts referencing the host take.
_LOCK = Sql("SELECT id FROM host WHERE id = :id FOR NO KEY UPDATE")
_LIST = Sql(
    f"SELECT {_COLUMNS} FROM host WHERE CAST(:after AS text) IS NULL OR name > :after ORDER BY name LIMIT :limit"
)


def upsert_host(conn: Connection, name: str, labels: dict[str, str]) -> HostRecord:
    return HostRecord(*run(conn, _UPSERT, {"name": name, "labels": Jsonb(labels)}).one())


def get_host(conn: Connection, name: str) -> HostRecord:
    row = run(conn, _GET, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return HostRecord(*row)


def host_id_and_labels(conn: Connection, name: str) -> tuple[int, dict[str, str]]:
    row = run(conn, _ID_AND_LABELS, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return int(row[0]), dict(row[1])


def lock_host(conn: Connection, host_id: int) -> None:
    """Serialize subnet acquisition per host so concurrent requests don't each claim a block."""
    run(conn, _LOCK, {"id": host_id})


def list_hosts(conn: Connection, page: PageRequest) -> list[HostRecord]:
    return [HostRecord(*row) for row in run(conn, _LIST, {"after": page.after, "limit": page.size + 1})]
