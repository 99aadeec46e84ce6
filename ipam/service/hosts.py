"""Use cases for hosts: registration (the heartbeat), reads, drain. Deletion: ipam.service.gc."""

from __future__ import annotations

from sqlalchemy import Engine

from ipam.domain import liveness, validate
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import HostRecord, Page
from ipam.store import hosts as host_store
from ipam.store import tx


def register_host(
    engine: Engine, name: str, labels: dict[str, str], ttl_seconds: int, grace_seconds: int
) -> HostRecord:
    """Create the host or mark it seen (a heartbeat); `ttl_seconds` 0 = the default TTL."""
    validate.name("name", name)
    validate.labels("labels", labels)
    ttl = liveness.heartbeat_ttl("heartbeat_ttl_seconds", ttl_seconds)
    return tx.run(engine, lambda conn: host_store.upsert_host(conn, name, labels, ttl, grace_seconds))


def get_host(engine: Engine, name: str, grace_seconds: int) -> HostRecord:
    validate.name("name", name)
    return tx.run(engine, lambda conn: host_store.get_host(conn, name, grace_seconds))


def list_hosts(engine: Engine, page_size: int, page_token: str, grace_seconds: int) -> Page[HostRecord]:
    page = page_request(page_size, page_token, kind="Hosts")
    rows = tx.run(engine, lambda conn: host_store.list_hosts(conn, page, grace_seconds))
    return page_of(rows, page, "Hosts", lambda h: h.name)


def set_drained(engine: Engine, name: str, drained: bool, grace_seconds: int) -> HostRecord:
    """Drain (no new allocations; what the host holds stays) or undrain the host."""
    validate.name("name", name)
    return tx.run(engine, lambda conn: host_store.set_drained(conn, name, drained, grace_seconds))
