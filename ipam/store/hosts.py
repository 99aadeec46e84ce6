"""SQL for hosts."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql import bindparam

from ipam.domain.errors import NotFound
from ipam.domain.paging import PageRequest
from ipam.domain.records import HostRecord

_COLUMNS = "name, labels, created_at, last_seen_at"
_UPSERT = text(
    "INSERT INTO host (name, labels) VALUES (:name, :labels) "
    "ON CONFLICT (name) DO UPDATE SET labels = EXCLUDED.labels, last_seen_at = now() "
    f"RETURNING {_COLUMNS}"
).bindparams(bindparam("labels", type_=JSONB))
_GET = text(f"SELECT {_COLUMNS} FROM host WHERE name = :name")
_ID_AND_LABELS = text("SELECT id, labels FROM host WHERE name = :name")
# NO KEY UPDATE: does not conflict with the KEY SHARE locks that inserts referencing the host take.
_LOCK = text("SELECT id FROM host WHERE id = :id FOR NO KEY UPDATE")
_LIST = text(
    f"SELECT {_COLUMNS} FROM host WHERE CAST(:after AS text) IS NULL OR name > :after ORDER BY name LIMIT :limit"
)


def upsert_host(conn: Connection, name: str, labels: dict[str, str]) -> HostRecord:
    return HostRecord(*conn.execute(_UPSERT, {"name": name, "labels": labels}).one())


def get_host(conn: Connection, name: str) -> HostRecord:
    row = conn.execute(_GET, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return HostRecord(*row)


def host_id_and_labels(conn: Connection, name: str) -> tuple[int, dict[str, str]]:
    row = conn.execute(_ID_AND_LABELS, {"name": name}).first()
    if row is None:
        raise NotFound(f'host "{name}" is not registered')
    return int(row[0]), dict(row[1])


def lock_host(conn: Connection, host_id: int) -> None:
    """Serialize subnet acquisition per host so concurrent requests don't each claim a block."""
    conn.execute(_LOCK, {"id": host_id})


def list_hosts(conn: Connection, page: PageRequest) -> list[HostRecord]:
    return [HostRecord(*row) for row in conn.execute(_LIST, {"after": page.after, "limit": page.size + 1})]
