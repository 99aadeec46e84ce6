"""Picking an address for one owner in one pool, inside the caller's transaction.

Per request (DESIGN.md, "Allocation that does not slow down as pools fill"):
1. reuse the host's oldest released slot past its cooldown, else
2. bump the host subnet's `next_offset`, skipping reserved offsets, else
3. claim a new host subnet for the host (free block list, then the pool's block bump pointer).
Every step is an index lookup; nothing enumerates the address space. The database's unique
and exclusion constraints, not this code, make a duplicate impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ipam.domain.errors import AlreadyExists, InvalidArgument, ResourceExhausted
from ipam.domain.layout import PoolLayout
from ipam.domain.network import Address
from ipam.domain.records import PoolRecord
from ipam.store import hosts as host_store
from ipam.store import leases as lease_store
from ipam.store import pools as pool_store
from ipam.store import subnets as subnet_store
from ipam.store.subnets import SubnetRow


@dataclass(frozen=True)
class Owner:
    host_id: int
    host_name: str
    owner_id: str
    interface: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Allocated:
    lease_id: int
    subnet: SubnetRow


def allocate_any(conn: Connection, pool: PoolRecord, layout: PoolLayout, owner: Owner) -> int:
    """Allocate a free address of the pool to the owner; returns the lease id."""
    values = _lease_values(pool, owner)
    while True:
        reused = lease_store.reuse_released(conn, {**values, "cooldown": pool.cooldown_seconds})
        if reused is not None:
            return int(reused.id)
        subnet = subnet_store.bump(conn, owner.host_id, pool.id)
        if subnet is None:
            acquire_subnet(conn, pool, layout, owner.host_id, owner.host_name)
            continue
        offset = layout.first_free_offset(subnet.idx, subnet.next_offset)
        if offset != subnet.next_offset:  # landed on a reserved CIDR: jump past it
            subnet_store.set_next_offset(
                conn, subnet.id, subnet.offset_limit if offset is None else offset + 1
            )
            if offset is None:
                continue
        row = lease_store.insert_lease(
            conn,
            {
                **values,
                "subnet_id": subnet.id,
                "offset": offset,
                "address": str(layout.address(subnet.idx, offset)),
            },
        )
        if row is not None:
            return int(row.id)
        # The slot was taken by a request for that specific address: bump again.


def allocate_specific(
    conn: Connection, pool: PoolRecord, layout: PoolLayout, owner: Owner, address: Address
) -> int:
    """Allocate exactly `address` (must be in the pool, not reserved, not held)."""
    check_assignable(pool, layout, address)
    idx, offset = layout.block_index_of(address), layout.offset_of(address)
    subnet = subnet_store.subnet_of_block(conn, pool.id, idx) or _claim_block(conn, pool, layout, idx, owner)
    row = lease_store.claim_specific(
        conn,
        {**_lease_values(pool, owner), "subnet_id": subnet.id, "offset": offset, "address": str(address)},
    )
    if row is None:
        held = lease_store.holder(conn, subnet.id, offset)
        who = f"owner {held.owner_id}/{held.interface} on host {held.host}" if held else "another owner"
        raise AlreadyExists(f"address: {address} is already held by {who}")
    return int(row.id)


def check_assignable(pool: PoolRecord, layout: PoolLayout, address: Address) -> None:
    if address.version != layout.family:
        raise InvalidArgument(
            f'address: {address} is IPv{address.version} but pool "{pool.name}" is IPv{layout.family}'
        )
    if address not in layout.network:
        raise InvalidArgument(f'address: {address} is outside pool "{pool.name}" ({pool.cidr})')
    reason = layout.system_reserved_reason(layout.offset_of(address))
    if reason:
        raise InvalidArgument(f"address: {address} is reserved ({reason})")
    reserved = layout.reserved_cidr_holding(address)
    if reserved is not None:
        raise InvalidArgument(f'address: {address} is inside reserved CIDR {reserved} of pool "{pool.name}"')


def acquire_subnet(
    conn: Connection, pool: PoolRecord, layout: PoolLayout, host_id: int, host_name: str
) -> SubnetRow:
    """The host's subnet in the pool that has room, or a newly claimed one (idempotent)."""
    host_store.lock_host(conn, host_id)
    existing = subnet_store.subnet_with_room(conn, host_id, pool.id, pool.cooldown_seconds)
    if existing is not None:
        return existing
    held = subnet_store.count_for_host(conn, host_id, pool.id)
    if pool.max_subnets_per_host and held >= pool.max_subnets_per_host:
        raise ResourceExhausted(
            f'host "{host_name}" holds {held}/{pool.max_subnets_per_host} subnets of pool "{pool.name}" '
            "and they are full"
        )
    while True:
        idx = subnet_store.pop_free_block(conn, pool.id)
        if idx is None or not layout.block_is_usable(idx):
            idx = _bump_block(conn, pool, layout)
        subnet = subnet_store.insert_subnet(conn, _subnet_values(pool, layout, idx, host_id))
        if subnet is not None:
            return subnet
        # Taken by a request for a specific address in that block: try the next one.


def _bump_block(conn: Connection, pool: PoolRecord, layout: PoolLayout) -> int:
    start = pool_store.lock_next_block(conn, pool.id)
    idx = layout.next_usable_block(start)
    if idx is None:
        _, _, used = pool_store.counts(conn, pool)
        raise ResourceExhausted(
            f'pool "{pool.name}" has no free host subnet ({used}/{layout.usable_block_count} used)'
        )
    pool_store.set_next_block(conn, pool.id, idx + 1)
    return idx


def _claim_block(conn: Connection, pool: PoolRecord, layout: PoolLayout, idx: int, owner: Owner) -> SubnetRow:
    """Claim a given block for the owner's host (a specific address outside its subnets)."""
    subnet_store.forget_free_block(conn, pool.id, idx)
    subnet = subnet_store.insert_subnet(conn, _subnet_values(pool, layout, idx, owner.host_id))
    if subnet is None:  # claimed concurrently; the transaction is retried and finds it
        subnet = subnet_store.subnet_of_block(conn, pool.id, idx)
    if subnet is None:
        raise AlreadyExists(f"{layout.block(idx)} overlaps a subnet registered in the same address space")
    return subnet


def _subnet_values(pool: PoolRecord, layout: PoolLayout, idx: int, host_id: int) -> dict[str, Any]:
    first = layout.first_free_offset(idx, layout.first_offset)
    limit = layout.stored_offset_limit
    return {
        "pool_id": pool.id,
        "space_id": pool.space_id,
        "host_id": host_id,
        "idx": idx,
        "cidr": str(layout.block(idx)),
        "next_offset": limit if first is None else first,
        "offset_limit": limit,
    }


def _lease_values(pool: PoolRecord, owner: Owner) -> dict[str, Any]:
    return {
        "pool_id": pool.id,
        "host_id": owner.host_id,
        "owner_id": owner.owner_id,
        "interface": owner.interface,
        "attributes": owner.attributes,
    }
