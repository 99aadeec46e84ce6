"""Turning stored rows into the records the use cases return."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection

from ipam.domain.layout import PoolLayout, subnet_gateway
from ipam.domain.records import LeaseRecord, PoolRecord, Usage
from ipam.store import pools as pool_store


@lru_cache(maxsize=1024)
def _layout(cidr: str, host_prefix_length: int, reserved: tuple[str, ...], gateway_policy: str) -> PoolLayout:
    return PoolLayout.build(cidr, host_prefix_length, list(reserved), gateway_policy)


def layout_of(pool: PoolRecord) -> PoolLayout:
    return _layout(pool.cidr, pool.host_prefix_length, tuple(pool.reserved_cidrs), pool.gateway_policy)


def pool_with_usage(conn: Connection, pool: PoolRecord) -> PoolRecord:
    layout = layout_of(pool)
    counted = pool_store.counts(conn, pool)
    usage = Usage(
        total_addresses=layout.total_addresses,
        reserved_addresses=layout.reserved_addresses,
        allocated_addresses=counted.active,
        cooling_addresses=counted.cooling,
        # Blocks reserved after a host took them still count, as held, until released.
        total_subnets=layout.usable_block_count + counted.reserved_subnets,
        allocated_subnets=counted.subnets,
    )
    return replace(pool, usage=usage)


def subnet_usage(layout: PoolLayout, idx: int, active: int, cooling: int) -> Usage:
    return Usage(
        total_addresses=layout.block_size,
        reserved_addresses=layout.reserved_addresses_per_block(idx),
        allocated_addresses=active,
        cooling_addresses=cooling,
        total_subnets=1,
        allocated_subnets=1,
    )


def lease_record(row: Any) -> LeaseRecord:
    """A lease from a row of the store's lease view."""
    if row.subnet_kind == "docker":  # a Docker network's gateway is whatever dockerd asked for
        gateway = row.network_gateway or ""
    else:
        gateway = str(subnet_gateway(row.subnet, row.gateway_policy) or "")
    return LeaseRecord(
        address=row.address,
        prefix_length=row.prefix_length,
        gateway=gateway,
        subnet=row.subnet,
        pool=row.pool,
        space=row.space,
        host=row.host,
        owner_id=row.owner_id,
        interface=row.interface,
        state=row.state,
        allocated_at=row.allocated_at,
        released_at=row.released_at,
        family=row.family,
        attributes=dict(row.attributes),
    )
