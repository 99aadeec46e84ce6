"""SQL for API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from ipam.domain.errors import AlreadyExists, NotFound
from ipam.domain.paging import PageRequest
from ipam.domain.tokens import TokenRecord
from ipam.store.sql import Sql, run

_COLUMNS = "id, name, role, host, created_at, expires_at, revoked_at"
_INSERT = Sql(
    "INSERT INTO api_token (id, name, role, host, secret_hash, expires_at) "
    "VALUES (:id, :name, :role, :host, :secret_hash, :expires_at) "
    f"ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}"
)
_WITH_HASH = Sql(f"SELECT {_COLUMNS}, secret_hash FROM api_token WHERE id = :id")
_REVOKE = Sql(
    f"UPDATE api_token SET revoked_at = coalesce(revoked_at, now()) WHERE name = :key OR id = :key RETURNING {_COLUMNS}"
)
_LIST = Sql(
    f"SELECT {_COLUMNS} FROM api_token "
    "WHERE (CAST(:after AS text) IS NULL OR name > :after) AND (:all OR revoked_at IS NULL) "
    "ORDER BY name LIMIT :limit"
)


def insert(
    conn: Connection,
    token_id: str,
    name: str,
    role: str,
    host: str | None,
    secret_hash: bytes,
    expires_at: datetime | None,
) -> TokenRecord:
    params = {
        "id": token_id,
        "name": name,
        "role": role,
        "host": host,
        "secret_hash": secret_hash,
        "expires_at": expires_at,
    }
    row = run(conn, _INSERT, params).first()
    if row is None:
        raise AlreadyExists(f'a token named "{name}" already exists')
    return TokenRecord(*row)


def with_hash(conn: Connection, token_id: str) -> tuple[TokenRecord, bytes] | None:
    row = run(conn, _WITH_HASH, {"id": token_id}).first()
    if row is None:
        return None
    return TokenRecord(*row[:-1]), bytes(row[-1])


def revoke(conn: Connection, key: str) -> TokenRecord:
    """Revoke the token named or identified by `key` (revoking twice keeps the first time)."""
    row = run(conn, _REVOKE, {"key": key}).first()
    if row is None:
        raise NotFound(f'no token is named or identified by "{key}"')
    return TokenRecord(*row)


def list_tokens(conn: Connection, page: PageRequest, *, include_revoked: bool) -> list[TokenRecord]:
    params = {"after": page.after, "all": include_revoked, "limit": page.size + 1}
    return [TokenRecord(*row) for row in run(conn, _LIST, params)]
