"""Use cases for address leases: allocate (dual-stack, all or nothing), release, get, list."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.errors import AlreadyExists, InvalidArgument, IpamError, NotFound, PermissionDenied
from ipam.domain.layout import PoolLayout
from ipam.domain.network import Address, parse_address
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import LeaseRecord, Page, PoolRecord
from ipam.service.allocator import (
    HostRef,
    Outcome,
    allocate_any,
    allocate_specific,
    check_assignable,
    existing_lease,
)
from ipam.service.coalesce import Coalescer
from ipam.service.pool_choice import choose_pool, require_known
from ipam.service.views import layout_of, lease_record
from ipam.store import call as calls
from ipam.store import hosts as host_store
from ipam.store import leases as lease_store
from ipam.store import subnets as subnet_store
from ipam.store import tx
from ipam.store.leases import NewOwner
from ipam.store.spaces import DEFAULT_SPACE

# A concurrent identical request won: run again and return its lease.
_RACES = (
    "lease_one_per_owner",
    "lease_owner_on_one_host",
    "host_subnet_block_once",
    "host_subnet_no_overlap_in_space",
    # An insert whose ON CONFLICT arbiter (subnet_id, offset) passed before a concurrent insert of
    # the same slot committed meets the other unique index instead: the retry sees the slot taken.
    "lease_one_active_per_address",
    # The subnet a specific address was to go into was deleted meanwhile (host delete, subnet
    # release): the retry claims the block again.
    "lease_subnet_id_fkey",
)
STATES = ("active", "released")


@dataclass(frozen=True)
class AddressSpec:
    pool: str = ""
    space: str = ""
    family: int = 0
    address: str = ""
    single_subnet: bool = False


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


class Allocator:
    """Allocate use case. Concurrent single-address requests for the same host and pool are
    coalesced into one transaction (group commit); everything else runs on its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._groups: Coalescer[GroupKey, AllocateCommand, Allocation] = Coalescer(self._allocate_group)

    def allocate(self, command: AllocateCommand) -> Allocation:
        _validate(command)
        spec = command.addresses[0]
        if len(command.addresses) == 1 and not spec.address:
            key = GroupKey(command.host, spec.pool, spec.space, spec.family, spec.single_subnet)
            return self._groups.submit(key, command)
        return tx.run(self.engine, lambda conn: _allocate(conn, command), retry_on_constraints=_RACES)

    def _allocate_group(self, key: GroupKey, commands: Sequence[AllocateCommand]) -> list[Allocation | IpamError]:
        def work(conn: Connection) -> list[Allocation | IpamError]:
            host, labels = _host(conn, key.host)
            pool = choose_pool(conn, pool=key.pool, space=key.space, family=key.family, host=key.host, labels=labels)
            owners = [NewOwner(c.owner_id, c.interface, c.attributes) for c in commands]
            outcomes = allocate_any(conn, pool, layout_of(pool), host, owners, single_subnet=key.single_subnet)
            return [_result([o]) for o in outcomes]

        # A batch serves several callers: one of them cancelling or timing out must not stop it.
        with calls.bound(None) if len(commands) > 1 else nullcontext():
            return tx.run(self.engine, work, retry_on_constraints=_RACES)


@dataclass(frozen=True)
class GroupKey:
    host: str
    pool: str
    space: str
    family: int
    single_subnet: bool = False


def _result(outcomes: list[Outcome]) -> Allocation | IpamError:
    """All of one request's outcomes as its answer, or the first error among them."""
    for outcome in outcomes:
        if outcome.error is not None:
            return outcome.error
    leases = [o.lease for o in outcomes if o.lease is not None]
    return Allocation(leases, already_allocated=all(o.already_allocated for o in outcomes))


def _host(conn: Connection, name: str) -> tuple[HostRef, dict[str, str]]:
    host_id, labels = host_store.host_id_and_labels(conn, name)
    return HostRef(host_id, name), labels


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
    """Several addresses (dual-stack) or a specific one: all in one transaction, all or nothing."""
    host, labels = _host(conn, command.host)
    owner = NewOwner(command.owner_id, command.interface, command.attributes)
    outcomes: list[Outcome] = []
    seen: set[int] = set()
    for i, spec in enumerate(command.addresses):
        pool = choose_pool(conn, pool=spec.pool, space=spec.space, family=spec.family, host=command.host, labels=labels)
        if pool.id in seen:
            raise InvalidArgument(f'addresses[{i}]: pool "{pool.name}" is asked for twice; one address per pool')
        seen.add(pool.id)
        layout = layout_of(pool)
        if spec.address:
            outcomes.append(_allocate_specific(conn, pool, layout, host, owner, spec.address, spec.single_subnet))
        else:
            outcomes.extend(allocate_any(conn, pool, layout, host, [owner], single_subnet=spec.single_subnet))
    result = _result(outcomes)
    if isinstance(result, IpamError):
        raise result  # rolls back whatever this request allocated so far
    return result


def _allocate_specific(
    conn: Connection,
    pool: PoolRecord,
    layout: PoolLayout,
    host: HostRef,
    owner: NewOwner,
    address: str,
    single_subnet: bool,
) -> Outcome:
    wanted = parse_address("address", address)
    held = lease_store.active_for_owners(conn, [(owner.owner_id, owner.interface)])
    row = existing_lease(held.get((owner.owner_id, owner.interface), []), pool, host, owner)
    if row is None:
        if single_subnet:
            _require_own_subnet(conn, pool, layout, host, wanted)
        lease_id = allocate_specific(conn, pool, layout, host, owner, wanted)
        return Outcome(lease_record(lease_store.by_ids(conn, [lease_id])[0]))
    if parse_address("address", row.address) != wanted:
        key = f"{owner.owner_id}/{owner.interface}"
        return Outcome(error=AlreadyExists(f"owner {key} already holds {row.address}, not {address}"))
    return Outcome(lease_record(row), already_allocated=True)


def _require_own_subnet(conn: Connection, pool: PoolRecord, layout: PoolLayout, host: HostRef, wanted: Address) -> None:
    """With single_subnet, a specific address must be in the host's subnet of the pool, or in a
    free block when the host has none yet (that block becomes its one subnet)."""
    check_assignable(pool, layout, wanted)
    block = subnet_store.subnet_of_block(conn, pool.id, layout.block_index_of(wanted))
    if block is not None and block.host_id == host.id:
        return
    if block is None and subnet_store.count_for_host(conn, host.id, pool.id) == 0:
        return
    raise InvalidArgument(
        f'address: {wanted} is outside the subnet of pool "{pool.name}" that host "{host.name}" uses, and the '
        "request keeps a host to one subnet (single_subnet: a CNI bridge with isGateway holds one gateway)"
    )


@dataclass(frozen=True)
class Release:
    leases: list[LeaseRecord]
    already_released: bool


def release_owner(engine: Engine, owner_id: str, interface: str, *, only_host: str | None = None) -> Release:
    """Release the owner's active leases; with `only_host`, PermissionDenied (and nothing released)
    when one of them is on another host."""
    validate.text("owner.owner_id", owner_id, required=True)
    validate.text("owner.interface", interface, required=True, max_length=64)

    def work(conn: Connection) -> Release:
        released = [lease_record(r) for r in lease_store.release_owner(conn, owner_id, interface)]
        _require_host(released, only_host, f"owner {owner_id}/{interface}")
        return Release(released, already_released=not released)

    return tx.run(engine, work)


def release_address(engine: Engine, address: str, space: str, *, only_host: str | None = None) -> Release:
    """Release the active lease at `address`; `only_host` as in release_owner."""
    ip = str(parse_address("address.address", address))
    space = space or DEFAULT_SPACE

    def work(conn: Connection) -> Release:
        rows = lease_store.release_address(conn, space, ip)
        if not rows and lease_store.pool_holding(conn, space, ip) is None:
            raise NotFound(f'address {ip} is not inside any pool of address space "{space}"')
        released = [lease_record(r) for r in rows]
        _require_host(released, only_host, f"address {ip}")
        return Release(released, already_released=not rows)

    return tx.run(engine, work)


def _require_host(released: list[LeaseRecord], only_host: str | None, what: str) -> None:
    """Raised inside the transaction, so the release is rolled back."""
    if only_host is not None and any(lease.host != only_host for lease in released):
        raise PermissionDenied(f'the lease of {what} is not on host "{only_host}"; this token may not release it')


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
    page = page_request(page_size, page_token, kind="Leases", key_type=int)
    filters = {
        "pool": pool or None,
        "host": host or None,
        "owner_id": owner_id or None,
        "interface": interface or None,
        "state": state or None,
    }

    def work(conn: Connection) -> list[Any]:
        require_known(conn, pool=pool, host=host)
        return lease_store.list_leases(conn, filters, page)

    found = page_of(tx.run(engine, work), page, "Leases", lambda r: int(r.id))
    return Page([lease_record(r) for r in found.items], found.next_token)
