"""Use cases for hosts."""

from __future__ import annotations

from sqlalchemy import Engine

from ipam.domain import validate
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import HostRecord, Page
from ipam.store import hosts as host_store
from ipam.store import tx


def register_host(engine: Engine, name: str, labels: dict[str, str]) -> HostRecord:
    validate.name("name", name)
    validate.labels("labels", labels)
    return tx.run(engine, lambda conn: host_store.upsert_host(conn, name, labels))


def get_host(engine: Engine, name: str) -> HostRecord:
    validate.name("name", name)
    return tx.run(engine, lambda conn: host_store.get_host(conn, name))


def list_hosts(engine: Engine, page_size: int, page_token: str) -> Page[HostRecord]:
    page = page_request(page_size, page_token, kind="Hosts")
    rows = tx.run(engine, lambda conn: host_store.list_hosts(conn, page))
    return page_of(rows, page, "Hosts", lambda h: h.name)
