"""Use cases for pools."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.errors import FailedPrecondition, InvalidArgument
from ipam.domain.layout import GATEWAY_FIRST_USABLE, GATEWAY_NONE, PoolLayout
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import Page, PoolRecord
from ipam.domain.selector import parse_selector
from ipam.service.views import layout_of, pool_with_usage
from ipam.store import pools as pool_store
from ipam.store import spaces as space_store
from ipam.store import tx

MAX_COOLDOWN = 10 * 365 * 24 * 3600
GATEWAY_POLICIES = (GATEWAY_FIRST_USABLE, GATEWAY_NONE)


@dataclass(frozen=True)
class PoolSpec:
    name: str
    cidr: str
    host_prefix_length: int
    space: str = ""
    reserved_cidrs: list[str] = field(default_factory=list)
    host_selector: str = ""
    disabled: bool = False
    cooldown_seconds: int = 0
    max_subnets_per_host: int = 0
    gateway_policy: str = GATEWAY_FIRST_USABLE


@dataclass(frozen=True)
class PoolChanges:
    disabled: bool | None = None
    cooldown_seconds: int | None = None
    max_subnets_per_host: int | None = None
    host_selector: str | None = None
    reserved_cidrs: list[str] | None = None


def create_pool(engine: Engine, spec: PoolSpec) -> PoolRecord:
    validate.name("name", spec.name)
    if spec.space:
        validate.name("space", spec.space)
    if spec.gateway_policy not in GATEWAY_POLICIES:
        raise InvalidArgument(f"gateway_policy: {spec.gateway_policy!r} is not one of {GATEWAY_POLICIES}")
    layout = PoolLayout.build(spec.cidr, spec.host_prefix_length, spec.reserved_cidrs, spec.gateway_policy)
    parse_selector("host_selector", spec.host_selector)
    validate.non_negative("cooldown_seconds", spec.cooldown_seconds, MAX_COOLDOWN)
    validate.non_negative("max_subnets_per_host", spec.max_subnets_per_host)

    def work(conn: Connection) -> PoolRecord:
        values = {
            "space_id": space_store.space_id(conn, spec.space),
            "name": spec.name,
            "cidr": str(layout.network),
            "family": layout.family,
            "host_prefix_length": spec.host_prefix_length,
            "reserved_cidrs": [str(r) for r in layout.reserved],
            "host_selector": spec.host_selector,
            "disabled": spec.disabled,
            "cooldown_seconds": spec.cooldown_seconds,
            "max_subnets_per_host": spec.max_subnets_per_host,
            "gateway_policy": spec.gateway_policy,
        }
        pool_id = pool_store.insert_pool(conn, values)
        return pool_with_usage(conn, pool_store.get_pool_by_id(conn, pool_id))

    return tx.run(engine, work)


def get_pool(engine: Engine, name: str) -> PoolRecord:
    validate.name("name", name)
    return tx.run(engine, lambda conn: pool_with_usage(conn, pool_store.get_pool(conn, name)))


def list_pools(engine: Engine, space: str, page_size: int, page_token: str) -> Page[PoolRecord]:
    page = page_request(page_size, page_token, kind="Pools")

    def work(conn: Connection) -> Page[PoolRecord]:
        if space:
            space_store.space_id(conn, space)
        found = page_of(pool_store.list_pools(conn, space or None, page), page, "Pools", lambda p: p.name)
        return Page([pool_with_usage(conn, p) for p in found.items], found.next_token)

    return tx.run(engine, work)


def update_pool(engine: Engine, name: str, changes: PoolChanges) -> PoolRecord:
    validate.name("name", name)
    values: dict[str, object] = {}
    if changes.disabled is not None:
        values["disabled"] = changes.disabled
    if changes.cooldown_seconds is not None:
        values["cooldown_seconds"] = validate.non_negative("cooldown_seconds", changes.cooldown_seconds, MAX_COOLDOWN)
    if changes.max_subnets_per_host is not None:
        values["max_subnets_per_host"] = validate.non_negative("max_subnets_per_host", changes.max_subnets_per_host)
    if changes.host_selector is not None:
        parse_selector("host_selector", changes.host_selector)
        values["host_selector"] = changes.host_selector

    def work(conn: Connection) -> PoolRecord:
        pool = pool_store.get_pool(conn, name)
        if changes.reserved_cidrs is not None:
            layout = PoolLayout.build(pool.cidr, pool.host_prefix_length, changes.reserved_cidrs, pool.gateway_policy)
            reserved = [str(r) for r in layout.reserved]
            taken = pool_store.first_active_address_in(conn, pool.id, reserved) if reserved else None
            if taken:
                raise FailedPrecondition(f"reserved_cidrs: {taken} is leased; release it before reserving its range")
            values["reserved_cidrs"] = reserved
            pool_store.forget_released_in(conn, pool.id, reserved)
        pool_store.update_pool(conn, pool.id, values)
        return pool_with_usage(conn, pool_store.get_pool_by_id(conn, pool.id))

    return tx.run(engine, work)


def delete_pool(engine: Engine, name: str, force: bool) -> None:
    validate.name("name", name)
    tx.run(engine, lambda conn: pool_store.delete_pool(conn, pool_store.get_pool(conn, name), force=force))


__all__ = [
    "PoolChanges",
    "PoolSpec",
    "create_pool",
    "delete_pool",
    "get_pool",
    "layout_of",
    "list_pools",
    "update_pool",
]
