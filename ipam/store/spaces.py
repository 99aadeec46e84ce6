"""SQL for address spaces."""

from __future__ import annotations

from sqlalchemy import Connection

from ipam.domain.errors import AlreadyExists, FailedPrecondition, NotFound
from ipam.domain.paging import PageRequest
from ipam.domain.records import SpaceRecord
from ipam.store.sql import Sql, run

DEFAULT_SPACE = "default"

_INSERT = Sql(
    "INSERT INTO address_space (name, description) VALUES (:name, :description) "
    "ON CONFLICT (name) DO NOTHING RETURNING name, description, created_at"
)
_ID = Sql("SELECT id FROM address_space WHERE name = :name")
_LIST = Sql(
    "SELECT name, description, created_at FROM address_space "
    "WHERE CAST(:after AS text) IS NULL OR name > :after ORDER BY name LIMIT :limit"
)
_POOL_COUNT = Sql("SELECT count(*) FROM pool WHERE space_id = :id")
_DELETE = Sql("DELETE FROM address_space WHERE id = :id")


def insert_space(conn: Connection, name: str, description: str) -> SpaceRecord:
    row = run(conn, _INSERT, {"name": name, "description": description}).first()
    if row is None:
        raise AlreadyExists(f'address space "{name}" already exists')
    return SpaceRecord(*row)


def space_id(conn: Connection, name: str) -> int:
    found = run(conn, _ID, {"name": name or DEFAULT_SPACE}).scalar()
    if found is None:
        raise NotFound(f'address space "{name or DEFAULT_SPACE}" does not exist')
    return int(found)


def list_spaces(conn: Connection, page: PageRequest) -> list[SpaceRecord]:
    rows = run(conn, _LIST, {"after": page.after, "limit": page.size + 1})
    return [SpaceRecord(*row) for row in rows]


def delete_space(conn: Connection, name: str) -> None:
    if name == DEFAULT_SPACE:
        raise FailedPrecondition(f'the "{DEFAULT_SPACE}" address space cannot be deleted')
    ident = space_id(conn, name)
    pools = run(conn, _POOL_COUNT, {"id": ident}).scalar_one()
    if pools:
        raise FailedPrecondition(f'address space "{name}" still holds {pools} pool(s); delete them first')
    run(conn, _DELETE, {"id": ident})
