"""Use cases for address spaces."""

from __future__ import annotations

from sqlalchemy import Engine

from ipam.domain import validate
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import Page, SpaceRecord
from ipam.store import spaces as space_store
from ipam.store import tx


def create_space(engine: Engine, name: str, description: str) -> SpaceRecord:
    validate.name("name", name)
    validate.text("description", description, max_length=1024)
    return tx.run(engine, lambda conn: space_store.insert_space(conn, name, description))


def list_spaces(engine: Engine, page_size: int, page_token: str) -> Page[SpaceRecord]:
    page = page_request(page_size, page_token, kind="AddressSpaces")
    rows = tx.run(engine, lambda conn: space_store.list_spaces(conn, page))
    return page_of(rows, page, "AddressSpaces", lambda s: s.name)


def delete_space(engine: Engine, name: str) -> None:
    validate.name("name", name)
    tx.run(engine, lambda conn: space_store.delete_space(conn, name))
