"""Use cases for API tokens: create (the secret is shown once), list, revoke, authenticate."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine

from ipam.domain import tokens, validate
from ipam.domain.errors import InvalidArgument, Unauthenticated
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import Page
from ipam.domain.tokens import Principal, TokenRecord
from ipam.store import tokens as token_store
from ipam.store import tx

# Compared against when the id is unknown, so that case costs the same as a wrong secret.
_DUMMY_HASH = tokens.hash_secret("0" * tokens.SECRET_HEX_LENGTH)
MAX_TTL_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class NewToken:
    record: TokenRecord
    token: str  # the full text form; never stored, shown to the creator once


def create_token(engine: Engine, name: str, role: str, host: str = "", ttl_seconds: int = 0) -> NewToken:
    validate.name("name", name)
    if host:
        validate.name("host", host)
    tokens.check_role(role, host or None)
    validate.non_negative("ttl_seconds", ttl_seconds, MAX_TTL_SECONDS)
    expires_at = datetime.now(UTC) + timedelta(seconds=ttl_seconds) if ttl_seconds else None
    token_id = secrets.token_hex(tokens.ID_HEX_LENGTH // 2)
    secret = secrets.token_hex(tokens.SECRET_HEX_LENGTH // 2)

    def work(conn: Connection) -> TokenRecord:
        return token_store.insert(conn, token_id, name, role, host or None, tokens.hash_secret(secret), expires_at)

    return NewToken(tx.run(engine, work), tokens.format_token(token_id, secret))


def list_tokens(engine: Engine, page_size: int, page_token: str, *, include_revoked: bool) -> Page[TokenRecord]:
    page = page_request(page_size, page_token, kind="Tokens")
    rows = tx.run(engine, lambda conn: token_store.list_tokens(conn, page, include_revoked=include_revoked))
    return page_of(rows, page, "Tokens", lambda t: t.name)


def revoke_token(engine: Engine, key: str) -> TokenRecord:
    if not key:
        raise InvalidArgument("name: give the token's name or id")
    return tx.run(engine, lambda conn: token_store.revoke(conn, key))


def authenticate(engine: Engine, token: str) -> tuple[Principal, TokenRecord]:
    """Who `token` speaks for; Unauthenticated, with one message whatever the reason, when it is not valid."""
    token_id, secret = tokens.parse_token(token)
    found = tx.run(engine, lambda conn: token_store.with_hash(conn, token_id))
    record, stored = found if found is not None else (None, _DUMMY_HASH)
    matches = tokens.secret_matches(secret, stored)
    if record is None or not matches or not record.usable_at(datetime.now(UTC)):
        raise Unauthenticated(tokens.NOT_VALID)
    return Principal(record.id, record.name, record.role, record.host), record
