"""Use cases for address leases: allocate (dual-stack, all or nothing), release, get, list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.errors import AlreadyExists, InvalidArgument, NotFound
from ipam.domain.network import parse_address
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import LeaseRecord, Page
from ipam.service.allocator import Owner, allocate_any, allocate_specific
from ipam.service.pool_choice import choose_pool
from ipam.service.views import layout_of, lease_record
from ipam.store import hosts as host_store
from ipam.store import leases as lease_store
from ipam.store import tx
from ipam.store.spaces import DEFAULT_SPACE

# A concurrent identical request won: run again and return its lease.
_RACES = ("lease_one_per_owner", "host_subnet_block_once", "host_subnet_no_overlap_in_space")
STATES = ("active", "released")


@dataclass(frozen=True)
class AddressSpec:
    pool: str = ""
    space: str = ""
    family: int = 0
    address: str = ""


@dataclass(frozen=True)
class AllocateCommand:
    host: str
    owner_id: str
    interface: str
    addresses: list[AddressSpec]
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Allocation:
    leases: list[LeaseRecord]
    already_allocated: bool


def allocate(engine: Engine, command: AllocateCommand) -> Allocation:
    _validate(command)
    return tx.run(engine, lambda conn: _allocate(conn, command), retry_on_constraints=_RACES)


def _validate(command: AllocateCommand) -> None:
    validate.name("host", command.host)
    validate.text("owner_id", command.owner_id, required=True)
    validate.text("interface", command.interface, required=True, max_length=64)
    validate.labels("attributes", command.attributes)
    if not command.addresses:
        raise InvalidArgument("addresses: at least one address request is needed")
    for i, spec in enumerate(command.addresses):
        if spec.pool:
            validate.name(f"addresses[{i}].pool", spec.pool)
        if spec.space:
            validate.name(f"addresses[{i}].space", spec.space)
        if spec.address:
            parse_address(f"addresses[{i}].address", spec.address)


def _allocate(conn: Connection, command: AllocateCommand) -> Allocation:
    host_id, labels = host_store.host_id_and_labels(conn, command.host)
    owner = Owner(host_id, command.host, command.owner_id, command.interface, command.attributes)
    lease_ids: list[int] = []
    existing_count = 0
    seen: set[int] = set()
    for i, spec in enumerate(command.addresses):
        pool = choose_pool(
            conn, pool=spec.pool, space=spec.space, family=spec.family, host=command.host, labels=labels
        )
        if pool.id in seen:
            raise InvalidArgument(
                f'addresses[{i}]: pool "{pool.name}" is asked for twice; one address per pool'
            )
        seen.add(pool.id)
        existing = lease_store.active_for_owner(conn, pool.id, command.owner_id, command.interface)
        if existing is not None:
            _check_same_request(existing, command, spec)
            lease_ids.append(int(existing.id))
            existing_count += 1
            continue
        layout = layout_of(pool)
        if spec.address:
            lease_ids.append(
                allocate_specific(conn, pool, layout, owner, parse_address("address", spec.address))
            )
        else:
            lease_ids.append(allocate_any(conn, pool, layout, owner))
    leases = [lease_record(row) for row in lease_store.by_ids(conn, lease_ids)]
    return Allocation(leases, already_allocated=existing_count == len(lease_ids))


def _check_same_request(existing: Any, command: AllocateCommand, spec: AddressSpec) -> None:
    """A repeated request must be the same request: same host and, if given, the same address."""
    held_host, held_address = existing.host, existing.address
    key = f"{command.owner_id}/{command.interface}"
    if held_host != command.host:
        raise AlreadyExists(f'owner {key} already holds {held_address} on host "{held_host}"')
    if spec.address and parse_address("address", spec.address) != parse_address("address", held_address):
        raise AlreadyExists(f"owner {key} already holds {held_address}, not {spec.address}")


@dataclass(frozen=True)
class Release:
    leases: list[LeaseRecord]
    already_released: bool


def release_owner(engine: Engine, owner_id: str, interface: str) -> Release:
    validate.text("owner.owner_id", owner_id, required=True)
    validate.text("owner.interface", interface, required=True, max_length=64)
    rows = tx.run(engine, lambda conn: lease_store.release_owner(conn, owner_id, interface))
    return Release([lease_record(r) for r in rows], already_released=not rows)


def release_address(engine: Engine, address: str, space: str) -> Release:
    ip = str(parse_address("address.address", address))
    space = space or DEFAULT_SPACE

    def work(conn: Connection) -> Release:
        rows = lease_store.release_address(conn, space, ip)
        if not rows and lease_store.pool_holding(conn, space, ip) is None:
            raise NotFound(f'address {ip} is not inside any pool of address space "{space}"')
        return Release([lease_record(r) for r in rows], already_released=not rows)

    return tx.run(engine, work)


def get_lease(engine: Engine, address: str, space: str) -> LeaseRecord:
    ip = str(parse_address("address", address))
    space = space or DEFAULT_SPACE
    row = tx.run(engine, lambda conn: lease_store.at_address(conn, space, ip))
    if row is None:
        raise NotFound(f'address {ip} has never been leased in address space "{space}"')
    return lease_record(row)


def list_leases(
    engine: Engine,
    *,
    pool: str,
    host: str,
    owner_id: str,
    interface: str,
    state: str,
    page_size: int,
    page_token: str,
) -> Page[LeaseRecord]:
    if state and state not in STATES:
        raise InvalidArgument(f"state: {state!r} is not one of {', '.join(STATES)}")
    page = page_request(page_size, page_token, kind="Leases")
    filters = {
        "pool": pool or None,
        "host": host or None,
        "owner_id": owner_id or None,
        "interface": interface or None,
        "state": state or None,
    }
    rows = tx.run(engine, lambda conn: lease_store.list_leases(conn, filters, page))
    found = page_of(rows, page, "Leases", lambda r: int(r.id))
    return Page([lease_record(r) for r in found.items], found.next_token)
