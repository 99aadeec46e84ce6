"""Use cases for host subnets: acquire (idempotent), release, list with usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.errors import FailedPrecondition, NotFound
from ipam.domain.layout import subnet_gateway
from ipam.domain.network import parse_address, parse_cidr
from ipam.domain.paging import PageRequest, page_of, page_request
from ipam.domain.records import KeptSubnet, Page, PoolRecord, SubnetRecord
from ipam.service.allocator import HostRef
from ipam.service.allocator import acquire_subnet as acquire_in
from ipam.service.pool_choice import choose_pool, require_known
from ipam.service.views import layout_of, subnet_usage
from ipam.store import hosts as host_store
from ipam.store import pools as pool_store
from ipam.store import subnets as subnet_store
from ipam.store import tx
from ipam.store.spaces import DEFAULT_SPACE
from ipam.store.subnets import SubnetFilter

_RACES = ("host_subnet_block_once", "host_subnet_no_overlap_in_space")


def acquire_subnet(engine: Engine, host: str, pool: str, space: str, family: int) -> SubnetRecord:
    validate.name("host", host)
    if pool:
        validate.name("pool", pool)

    def work(conn: Connection) -> SubnetRecord:
        host_id, labels = host_store.host_id_and_labels(conn, host)
        chosen = choose_pool(conn, pool=pool, space=space, family=family, host=host, labels=labels)
        subnet = acquire_in(conn, chosen, layout_of(chosen), HostRef(host_id, host))
        return _one(conn, subnet.id)

    return tx.run(engine, work, retry_on_constraints=_RACES)


@dataclass(frozen=True)
class SubnetRelease:
    # Set when other hosts hold addresses in the subnet: it stays, its own host's leases released.
    kept: KeptSubnet | None = None
    released: list[str] = field(default_factory=list)


def release_subnet(engine: Engine, cidr: str, space: str, force: bool) -> SubnetRelease:
    """Delete the subnet and give its block back; with `force` even when it holds leases, except
    that other hosts' leases in it (borrowed addresses) are never released: then only its own
    host's leases go and the subnet stays."""
    network = str(parse_cidr("cidr", cidr))
    space = space or DEFAULT_SPACE

    def work(conn: Connection) -> SubnetRelease:
        subnet = subnet_store.subnet_by_cidr(conn, space, network)
        if subnet is None:
            raise NotFound(f'no host subnet {network} in address space "{space}"')
        subnet_store.lock(conn, subnet.id)
        active = subnet_store.active_count(conn, subnet.id)
        if active and not force:
            raise FailedPrecondition(
                f"host subnet {network} has {active} active lease(s); release them first or use force"
            )
        kept = subnet_store.kept_for_borrowers(conn, subnet.id)
        if kept is not None:
            return SubnetRelease(kept, subnet_store.release_own(conn, subnet.id))
        subnet_store.delete_subnet(conn, subnet)
        return SubnetRelease()

    return tx.run(engine, work)


def list_subnets(
    engine: Engine, *, pool: str, host: str, address: str, space: str, page_size: int, page_token: str
) -> Page[SubnetRecord]:
    page = page_request(page_size, page_token, kind="Subnets", key_type=int)
    where = SubnetFilter(
        pool=pool or None,
        host=host or None,
        space=space or (DEFAULT_SPACE if address else None),
        address=str(parse_address("address", address)) if address else None,
    )

    def work(conn: Connection) -> Page[SubnetRecord]:
        require_known(conn, pool=pool, host=host, space=space)
        rows = subnet_store.list_subnets(conn, where, page)
        found = page_of(rows, page, "Subnets", lambda r: int(r.id))
        return Page(_records(conn, found.items), found.next_token)

    return tx.run(engine, work)


def _one(conn: Connection, subnet_id: int) -> SubnetRecord:
    rows = subnet_store.list_subnets(conn, SubnetFilter(subnet_id=subnet_id), PageRequest(1, None))
    return _records(conn, rows)[0]


def _records(conn: Connection, rows: list[Any]) -> list[SubnetRecord]:
    """Subnet records, reading each pool of the page once (not once per subnet)."""
    pools = {pool_id: pool_store.get_pool_by_id(conn, pool_id) for pool_id in {row.pool_id for row in rows}}
    return [_record(row, pools[row.pool_id]) for row in rows]


def _record(row: Any, pool: PoolRecord) -> SubnetRecord:
    layout = layout_of(pool)
    gateway = subnet_gateway(row.cidr, pool.gateway_policy)
    return SubnetRecord(
        cidr=row.cidr,
        pool=row.pool,
        space=row.space,
        host=row.host,
        gateway="" if gateway is None else str(gateway),
        created_at=row.created_at,
        usage=subnet_usage(layout, row.idx, int(row.active), int(row.cooling)),
    )
