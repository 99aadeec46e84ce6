"""Picking addresses in one pool for owners on one host, inside the caller's transaction.

For a batch of owners (DESIGN.md, "Allocation that does not slow down as pools fill"):
1. owners that already hold a lease in the pool get it back (retry-safe);
2. the host's oldest released slots past their cooldown are reused;
3. the rest come from bumping the host subnet's `next_offset` (skipping reserved offsets),
   claiming a new host subnet when the host's subnets are full.
Every step is an index lookup and one statement for the whole batch; nothing enumerates the
address space. The database's unique and exclusion constraints, not this code, make a
duplicate impossible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from ipam.domain.errors import AlreadyExists, InvalidArgument, IpamError, ResourceExhausted
from ipam.domain.layout import PoolLayout
from ipam.domain.network import Address
from ipam.domain.records import LeaseRecord, PoolRecord
from ipam.service.views import lease_record, pool_with_usage
from ipam.store import hosts as host_store
from ipam.store import leases as lease_store
from ipam.store import pools as pool_store
from ipam.store import subnets as subnet_store
from ipam.store.leases import NewOwner
from ipam.store.subnets import SubnetRow


@dataclass(frozen=True)
class HostRef:
    id: int
    name: str


@dataclass(frozen=True)
class Outcome:
    """What one owner of a batch got: a lease (new or already held) or an error."""

    lease: LeaseRecord | None = None
    already_allocated: bool = False
    error: IpamError | None = None


def allocate_any(
    conn: Connection,
    pool: PoolRecord,
    layout: PoolLayout,
    host: HostRef,
    owners: list[NewOwner],
    *,
    single_subnet: bool = False,
) -> list[Outcome]:
    """Allocate one free address of the pool to each owner; outcomes in the owners' order.

    `single_subnet` keeps the host to one subnet of the pool, whatever the pool allows."""
    outcomes: dict[tuple[str, str], Outcome] = {}
    held = lease_store.active_for_owners(conn, [(o.owner_id, o.interface) for o in owners])
    pending: dict[tuple[str, str], NewOwner] = {}
    for owner in owners:
        key = (owner.owner_id, owner.interface)
        try:
            row = existing_lease(held.get(key, []), pool, host, owner)
        except AlreadyExists as taken:
            outcomes[key] = Outcome(error=taken)
            continue
        if row is None:
            pending.setdefault(key, owner)
        else:
            outcomes[key] = Outcome(lease_record(row), already_allocated=True)
    if pending:
        leases, error = _new_leases(conn, pool, layout, host, list(pending.values()), single_subnet)
        for owner, lease in leases:
            outcomes[(owner.owner_id, owner.interface)] = Outcome(lease)
        for key in pending.keys() - outcomes.keys():
            outcomes[key] = Outcome(error=error)
    return [outcomes[(o.owner_id, o.interface)] for o in owners]


def existing_lease(held: list[Any], pool: PoolRecord, host: HostRef, owner: NewOwner) -> Any | None:
    """The owner's active lease in the pool, if any, from all its active leases (`held`).

    An owner key is one endpoint on one host: holding a lease on another host is a conflict.
    """
    for row in held:
        if row.host != host.name:
            raise AlreadyExists(
                f'owner {owner.owner_id}/{owner.interface} already holds {row.address} on host "{row.host}"'
            )
    return next((row for row in held if row.pool_id == pool.id), None)


def _new_leases(
    conn: Connection, pool: PoolRecord, layout: PoolLayout, host: HostRef, owners: list[NewOwner], single_subnet: bool
) -> tuple[list[tuple[NewOwner, LeaseRecord]], ResourceExhausted | None]:
    """New leases for as many owners as there is room for, and why the others got none."""
    by_key = {(o.owner_id, o.interface): o for o in owners}
    done: list[tuple[NewOwner, LeaseRecord]] = []

    def record(rows: list[Any], idx_of: Any) -> None:
        for row in rows:
            owner = by_key.pop((row.owner_id, row.interface))
            done.append((owner, _lease(pool, layout, host, idx_of(row), row.address, owner, row.allocated_at)))

    reused = lease_store.reuse_released(conn, pool.id, host.id, pool.cooldown_seconds, owners)
    record(reused, lambda row: row.idx)
    while by_key:
        bumped = subnet_store.bump(conn, host.id, pool.id, len(by_key))
        if bumped is None:
            try:
                acquire_subnet(conn, pool, layout, host, count_reusable=False, single_subnet=single_subnet)
            except ResourceExhausted as exhausted:
                return done, exhausted
            continue
        offsets, next_offset = layout.take_offsets(bumped.idx, bumped.start, len(by_key))
        if next_offset > bumped.stop:  # skipped reserved offsets; the row is still locked by the bump
            subnet_store.set_next_offset(conn, bumped.subnet_id, next_offset)
        waiting = list(by_key.values())[: len(offsets)]
        if offsets:
            slots = [(offset, str(layout.address(bumped.idx, offset))) for offset in offsets]
            # Slots taken meanwhile by requests for those addresses are skipped: go round again.
            record(lease_store.insert_leases(conn, bumped, host.id, slots, waiting), lambda row, idx=bumped.idx: idx)
    return done, None


def _lease(
    pool: PoolRecord,
    layout: PoolLayout,
    host: HostRef,
    idx: int,
    address: str,
    owner: NewOwner,
    allocated_at: datetime,
) -> LeaseRecord:
    gateway = layout.gateway(idx)
    return LeaseRecord(
        address=address,
        prefix_length=layout.host_prefix_length,
        gateway="" if gateway is None else str(gateway),
        subnet=str(layout.block(idx)),
        pool=pool.name,
        space=pool.space,
        host=host.name,
        owner_id=owner.owner_id,
        interface=owner.interface,
        state="active",
        allocated_at=allocated_at,
        released_at=None,
        family=layout.family,
        attributes=dict(owner.attributes),
    )


def allocate_specific(
    conn: Connection, pool: PoolRecord, layout: PoolLayout, host: HostRef, owner: NewOwner, address: Address
) -> int:
    """Allocate exactly `address` (in the pool, not reserved, not held); returns the lease id."""
    check_assignable(pool, layout, address)
    idx, offset = layout.block_index_of(address), layout.offset_of(address)
    subnet = subnet_store.subnet_of_block(conn, pool.id, idx) or _claim_block(conn, pool, layout, idx, host)
    values = {
        "pool_id": pool.id,
        "host_id": host.id,
        "owner_id": owner.owner_id,
        "interface": owner.interface,
        "attributes": owner.attributes,
        "subnet_id": subnet.id,
        "offset": offset,
        "address": str(address),
    }
    row = lease_store.claim_specific(conn, values)
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
    conn: Connection,
    pool: PoolRecord,
    layout: PoolLayout,
    host: HostRef,
    *,
    count_reusable: bool = True,
    single_subnet: bool = False,
) -> SubnetRow:
    """The host's subnet in the pool that has room, or a newly claimed one (idempotent).

    Room means never-used offsets and, with `count_reusable`, released slots past cooldown.
    `single_subnet`: never a second subnet for the host (a bridge holds one gateway).
    """
    host_store.lock_host(conn, host.id)
    if count_reusable:
        existing = subnet_store.subnet_with_room(conn, host.id, pool.id, pool.cooldown_seconds)
    else:
        existing = subnet_store.lock_subnet_with_room(conn, host.id, pool.id)
    if existing is not None:
        return existing
    held = subnet_store.count_for_host(conn, host.id, pool.id)
    if single_subnet and held >= 1:
        raise ResourceExhausted(
            f'pool "{pool.name}" is exhausted on host "{host.name}": its subnet of the pool is full and the '
            "request keeps a host to one subnet (single_subnet: a CNI bridge with isGateway holds one gateway); "
            "release addresses, or use a pool with a larger host subnet"
        )
    if pool.max_subnets_per_host and held >= pool.max_subnets_per_host:
        raise ResourceExhausted(
            f'host "{host.name}" holds {held}/{pool.max_subnets_per_host} subnets of pool "{pool.name}" '
            "and they are full"
        )
    while True:
        idx = subnet_store.pop_free_block(conn, pool.id)
        if idx is None or not layout.block_is_usable(idx):
            idx = _bump_block(conn, pool, layout)
        subnet = subnet_store.insert_subnet(conn, _subnet_values(pool, layout, idx, host.id))
        if subnet is not None:
            return subnet
        # Taken by a request for a specific address in that block: try the next one.


def _bump_block(conn: Connection, pool: PoolRecord, layout: PoolLayout) -> int:
    start = pool_store.lock_next_block(conn, pool.id)
    idx = layout.next_usable_block(start)
    if idx is None:
        usage = pool_with_usage(conn, pool).usage
        assert usage is not None
        raise ResourceExhausted(
            f'pool "{pool.name}" has no free host subnet ({usage.allocated_subnets}/{usage.total_subnets} used)'
        )
    pool_store.set_next_block(conn, pool.id, idx + 1)
    return idx


def _claim_block(conn: Connection, pool: PoolRecord, layout: PoolLayout, idx: int, host: HostRef) -> SubnetRow:
    """Claim a given block for the host (a specific address outside its subnets)."""
    subnet_store.forget_free_block(conn, pool.id, idx)
    subnet = subnet_store.insert_subnet(conn, _subnet_values(pool, layout, idx, host.id))
    if subnet is None:  # claimed concurrently by another host
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
