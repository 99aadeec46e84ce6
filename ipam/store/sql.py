"""Running the store's SQL on the transaction's psycopg connection.

SQLAlchemy owns the engine, the connection pool and the transaction; each statement goes
straight to the psycopg cursor of that transaction, which costs about half the CPU of
`Connection.execute(text(...))` (measured: ~55 us against ~140 us per statement), and the
allocation path runs several statements per request. Errors are re-raised as SQLAlchemy's, and
a broken connection is invalidated, so ipam.store.tx and the pool see failures the usual way.

A statement that may write endpoint events (it changes leases, whose triggers log them, or logs
them itself) marks its transaction: ipam.store.tx tells its commit observers (the event hub's
sequencer) once that transaction committed. PostgreSQL's NOTIFY would do the same from inside
the transaction, but it makes the commits of all writers take turns (migration 0010).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")
# Changes to these tables reach `lease` (directly, or by ON DELETE CASCADE) or `endpoint`, whose
# changes are logged as events; or the statement logs events itself.
_WRITES_EVENTS = re.compile(
    r"\b(?:(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:lease|endpoint)"
    r"|DELETE\s+FROM\s+(?:host_subnet|pool|host|address_space)|ipam_record_events|ipam_registry_change)\b",
    re.IGNORECASE,
)
# conn.info key: set while the transaction has run a statement that may have written events.
WROTE_EVENTS = "ipam_wrote_events"


class Sql:
    """A statement written with `:name` parameters, kept in psycopg's `%(name)s` style."""

    __slots__ = ("text", "writes_events")

    def __init__(self, statement: str) -> None:
        self.text = _PARAMETER.sub(r"%(\1)s", statement.replace("%", "%%"))
        self.writes_events = _WRITES_EVENTS.search(statement) is not None


class Result:
    """The rows a statement returned, with the accessors the store uses."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any | None:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise LookupError(f"expected one row, got {len(self._rows)}")
        return self._rows[0]

    def scalar(self) -> Any | None:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


def run(conn: Connection, statement: Sql, params: Mapping[str, Any] | None = None) -> Result:
    raw = conn.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    if statement.writes_events:
        conn.info[WROTE_EVENTS] = True
    try:
        with raw.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(statement.text, params)
            rows = cursor.fetchall() if cursor.description is not None else []
            return Result(rows, cursor.rowcount)
    except psycopg.Error as exc:
        broken = raw.closed or raw.broken
        if broken:
            conn.invalidate(exc)
        raise DBAPIError.instance(statement.text, params, exc, psycopg.Error, connection_invalidated=broken) from None
