"""Garbage collection: reclaiming leases and host subnets nobody uses, never one still in use.

A run holds the cluster-wide GC lock (one replica at a time), takes the database's time as the
moment its candidate list is made, and reclaims in short transactions (a batch of leases, one
subnet) so that allocations go on meanwhile; each transaction checks every condition again
(ipam.store.gc). Reasons, in order: leases of hosts silent past the grace period, then those
hosts' subnets; empty host subnets of other hosts beyond their newest one per pool (any of a
drained host), empty for the grace period. Leases the runtime reports gone are reclaimed by
`reconcile_host` (CNI GC) and `reconcile_docker_networks` (the agent's Docker reconciliation).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import Connection, Engine

from ipam.domain import docker_reconcile, liveness, validate
from ipam.domain.errors import Busy, FailedPrecondition, InvalidArgument
from ipam.domain.paging import page_of, page_request
from ipam.domain.records import HistoryRow, KeptSubnet, Page, Reclaimed
from ipam.service.networks import leave_network
from ipam.service.pace import Pace
from ipam.store import gc as gc_store
from ipam.store import hosts as host_store
from ipam.store import networks as network_store
from ipam.store import spaces as space_store
from ipam.store import subnets as subnet_store
from ipam.store import tx

# Leases released per transaction: short enough not to hold up allocations on the same rows.
BATCH = 2000
MAX_ITEMS = 1000


@dataclass(frozen=True)
class GcSettings:
    grace_seconds: int = liveness.DEFAULT_GRACE_SECONDS
    interval_seconds: float = liveness.DEFAULT_GC_INTERVAL_SECONDS  # 0: no periodic collector
    duty: float = liveness.DEFAULT_GC_DUTY  # of the periodic collector


@dataclass
class GcReport:
    dry_run: bool
    grace_seconds: int
    started_at: datetime | None = None
    duration_seconds: float = 0.0
    candidates: Counter[str] = field(default_factory=Counter)  # by reason
    reclaimed: Counter[str] = field(default_factory=Counter)
    # What was reclaimed (a dry run: what would be), the first max_items of it.
    items: list[Reclaimed] = field(default_factory=list)
    max_items: int = MAX_ITEMS

    def add(self, item: Reclaimed, *, reclaimed: bool) -> None:
        counter = self.reclaimed if reclaimed else self.candidates
        counter[f"{item.kind}:{item.reason}"] += 1
        if (reclaimed or self.dry_run) and len(self.items) < self.max_items:
            self.items.append(item)

    def add_reclaimed(self, kind: str, reason: str, count: int, some: list[Reclaimed]) -> None:
        """`count` candidates reclaimed, of which `some` are listed."""
        self.candidates[f"{kind}:{reason}"] += count
        self.reclaimed[f"{kind}:{reason}"] += count
        self.items.extend(some[: max(0, self.max_items - len(self.items))])


def run_gc(
    engine: Engine,
    *,
    dry_run: bool,
    grace_seconds: int,
    host: str = "",
    max_items: int = MAX_ITEMS,
    duty: float = liveness.DEFAULT_GC_DUTY,
) -> GcReport:
    """One collection, working `duty` of the time (Pace); Busy when another replica is collecting."""
    liveness.grace("grace", grace_seconds)
    pace = Pace(engine, liveness.duty("duty", duty))
    only = validate.name("host", host) if host else None
    validate.integer_range("max_items", max_items, 0, 100_000)
    report = GcReport(dry_run, grace_seconds, max_items=max_items)
    with gc_store.exclusive_run(engine) as exclusive:
        if not exclusive:
            raise Busy("garbage collection is running on another replica right now; try again when it ends")
        if only is not None:
            pace.run(lambda conn: host_store.get_host(conn, only, grace_seconds))  # NotFound names it
        # started_at + duration_seconds lies within the time this run held the lock.
        listed_at = pace.run(gc_store.database_now)
        start = time.monotonic()
        report.started_at = listed_at
        for host_id, _ in pace.run(lambda conn: gc_store.dead_hosts(conn, grace_seconds, only)):
            _collect_dead_host(pace, report, host_id, listed_at)
        surplus = pace.run(lambda conn: gc_store.surplus_subnets(conn, grace_seconds, only))
        _reclaim_subnets(pace, report, surplus)
        report.duration_seconds = time.monotonic() - start
    return report


def _collect_dead_host(pace: Pace, report: GcReport, host_id: int, listed_at: datetime) -> None:
    """Whole subnets first (their leases go with them), then the host's leases left elsewhere,
    then subnets those releases emptied."""
    grace = report.grace_seconds
    whole = pace.run(partial(gc_store.dead_host_subnets, host_id=host_id, grace=grace, listed_at=listed_at))
    done: set[int] = set()
    for subnet_id, item in whole:
        if report.dry_run:
            continue  # counted with the leases and subnets below
        reclaim = partial(
            gc_store.reclaim_dead_subnet,
            subnet_id=subnet_id,
            item=item,
            host_id=host_id,
            grace=grace,
            listed_at=listed_at,
            max_items=report.max_items - len(report.items),
        )
        reclaimed = pace.run(reclaim)
        if reclaimed is None:
            continue
        done.add(subnet_id)
        count, some = reclaimed
        report.add_reclaimed("lease", item.reason, count, some)
        report.add(item, reclaimed=False)
        report.add(item, reclaimed=True)
    after = 0
    while True:
        candidates = partial(
            gc_store.dead_host_leases, host_id=host_id, grace=grace, listed_at=listed_at, after=after, limit=BATCH
        )
        page = pace.run(candidates)
        if not page:
            break
        after = page[-1][0]
        for _, item in page:
            report.add(item, reclaimed=False)
        if not report.dry_run:
            release = partial(
                gc_store.release_dead_host_leases,
                host_id=host_id,
                ids=[lease_id for lease_id, _ in page],
                grace=grace,
                listed_at=listed_at,
                reason=liveness.DEAD_HOST,
            )
            for item in pace.run(release):
                report.add(item, reclaimed=True)
    subnets = pace.run(partial(gc_store.dead_host_subnets, host_id=host_id, grace=grace, listed_at=listed_at))
    _reclaim_subnets(pace, report, [(i, item) for i, item in subnets if i not in done])


def _reclaim_subnets(pace: Pace, report: GcReport, subnets: list[tuple[int, Reclaimed]]) -> None:
    for subnet_id, item in subnets:
        report.add(item, reclaimed=False)
        if report.dry_run:
            continue
        reclaim = partial(gc_store.reclaim_subnet, subnet_id=subnet_id, item=item, grace=report.grace_seconds)
        if pace.run(reclaim):
            report.add(item, reclaimed=True)


def reconcile_host(
    engine: Engine, host: str, match: dict[str, str], keep: list[tuple[str, str]], detail: str, min_age: int = 0
) -> list[Reclaimed]:
    """Release the host's active leases whose attributes include `match`, whose owner key the
    runtime did not list in `keep` (CNI GC's valid attachments) and which are at least `min_age`
    seconds old; recorded as runtime_gone."""
    validate.name("host", host)
    validate.labels("match", match)
    validate.text("detail", detail)
    validate.integer_range("min_age_seconds", min_age, 0, docker_reconcile.MAX_MIN_AGE_SECONDS)
    for owner_id, interface in keep:
        validate.text("keep.owner_id", owner_id, required=True)
        validate.text("keep.interface", interface, required=True, max_length=64)

    def work(conn: Connection) -> list[Reclaimed]:
        host_id, _ = host_store.host_id_and_labels(conn, host, allow_drained=True)
        candidates = gc_store.runtime_candidates(conn, host_id, match, keep, min_age)
        if not candidates:
            return []
        listed_at = gc_store.database_now(conn)
        ids = [lease_id for lease_id, _ in candidates]
        return gc_store.release_gone(conn, host_id, ids, listed_at, liveness.RUNTIME_GONE, detail)

    return tx.run(engine, work)


DOCKER_ADDRESS_GONE = "docker reconciliation: address no longer used by dockerd"
DOCKER_NETWORK_GONE = "docker reconciliation: network gone from dockerd"


def reconcile_docker_networks(
    engine: Engine, host: str, space: str, networks: list[tuple[list[str], list[str]]], min_age_seconds: int
) -> list[Reclaimed]:
    """Release what the host's dockerd no longer uses, given its networks of the driver as
    (subnets, container addresses): the host leaves the networks of the space not listed, and
    its container leases in the listed ones not listed are released. Nothing younger than the
    minimum age; never a gateway or aux address (the network's). Recorded as runtime_gone."""
    validate.name("host", host)
    if space:
        validate.name("space", space)
    in_use = docker_reconcile.in_use(networks)
    min_age = docker_reconcile.min_age(min_age_seconds)

    def work(conn: Connection) -> list[Reclaimed]:
        host_id, _ = host_store.host_id_and_labels(conn, host, allow_drained=True)
        space_id = space_store.space_id(conn, space)  # NotFound names it
        released: list[Reclaimed] = []
        for network_id, item in gc_store.docker_networks_gone(conn, host_id, space_id, in_use.subnets, min_age):
            released += _leave_gone_network(conn, host_id, network_id, item, min_age)
        ids = gc_store.docker_leases_gone(conn, host_id, space_id, in_use.subnets, in_use.addresses, min_age)
        released += gc_store.release_docker_gone(conn, host_id, ids, in_use.addresses, min_age, DOCKER_ADDRESS_GONE)
        return released

    return tx.run(engine, work)


def _leave_gone_network(
    conn: Connection, host_id: int, network_id: int, item: Reclaimed, min_age: int
) -> list[Reclaimed]:
    """The host leaves a network its dockerd no longer has, if that still holds once it is locked."""
    network = network_store.lock(conn, network_id)
    if network is None or not gc_store.lock_gone_membership(conn, network_id, host_id, min_age):
        return []
    ids = gc_store.docker_leases_gone(conn, host_id, network.space_id, [network.cidr], [], min_age)
    released = gc_store.release_docker_gone(conn, host_id, ids, [], min_age, DOCKER_NETWORK_GONE)
    deleted = leave_network(conn, network, host_id)
    outcome = "deleted, no other host uses it" if deleted else "other hosts still use it"
    gc_store.record(conn, item, f"{DOCKER_NETWORK_GONE}; {outcome}")
    return [*released, item]


@dataclass(frozen=True)
class HostDeletion:
    released: list[Reclaimed]
    # The host stays, drained, because the endpoint history refers to it (and nothing is kept).
    kept_for_history: bool
    # Its subnets that other hosts still hold addresses in: they and the host stay until those end.
    kept: list[KeptSubnet]


def delete_host(engine: Engine, name: str, grace_seconds: int) -> HostDeletion:
    """Release everything the host holds, give its blocks back, forget it (unless the endpoint
    history refers to it, or other hosts hold addresses in its blocks: then it stays, drained).
    Only a drained or dead host: a live host may be starting containers right now."""
    validate.name("name", name)

    def work(conn: Connection) -> HostDeletion:
        host_id, record = host_store.lock_host_by_name(conn, name, grace_seconds)
        if record.drained_at is None and record.state != liveness.DEAD:
            raise FailedPrecondition(
                f'host "{name}" is {record.state} and not drained: run `ipam host drain {name}` first '
                "(no new allocations to it), then delete it"
            )
        listed_at = gc_store.database_now(conn)
        reclaimed: list[Reclaimed] = []
        held = [lease_id for lease_id, _ in gc_store.host_active_leases(conn, host_id)]
        reclaimed += gc_store.release_gone(conn, host_id, held, listed_at, liveness.HOST_DELETED, "")
        gc_store.rehome_released(conn, host_id)
        reclaimed += gc_store.leave_docker_networks(conn, host_id, liveness.HOST_DELETED)
        kept: list[KeptSubnet] = []
        for subnet_id, item in gc_store.host_subnets(conn, host_id):
            pool_id, idx = gc_store.subnet_block(conn, subnet_id)  # locked: nobody borrows meanwhile
            # What is left active in it is other hosts' (the host's own leases were released above).
            borrowed = subnet_store.kept_for_borrowers(conn, subnet_id)
            if borrowed is not None:
                kept.append(borrowed)
                continue
            gc_store.delete_subnet_recorded(conn, subnet_id, pool_id, idx, item)
            reclaimed.append(item)
        stays = not host_store.delete_host(conn, host_id)
        return HostDeletion(reclaimed, stays and not kept, kept)

    return tx.run(engine, work)


def history(engine: Engine, host: str, reason: str, page_size: int, page_token: str) -> Page[HistoryRow]:
    if host:
        validate.name("host", host)
    if reason and reason not in liveness.REASONS:
        raise InvalidArgument(f"reason: {reason!r} is not one of {', '.join(liveness.REASONS)}")
    page = page_request(page_size, page_token, kind="GcRecords", key_type=int)
    rows = tx.run(engine, lambda conn: gc_store.history(conn, host or None, reason or None, page))
    return page_of(rows, page, "GcRecords", lambda row: row.id)
