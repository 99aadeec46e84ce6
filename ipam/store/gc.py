"""SQL for garbage collection: finding candidates, and reclaiming them with every condition
checked again in the reclaiming statement, and recording what was reclaimed (gc_record).

Every release requires, inside its own transaction: the lease still active, allocated before the
run's candidate list was made (`:listed_at`; a lease re-allocated since has a newer allocated_at)
and older than the grace period; for a dead host, the host still silent past the grace period
(its row locked, so a heartbeat waits for the commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from ipam.domain.paging import PageRequest
from ipam.domain.records import HistoryRow, Reclaimed
from ipam.store import registry_backlog, tx
from ipam.store.sql import Sql, run

# Any 64-bit number that nothing else in the database uses as an advisory lock key.
GC_LOCK_KEY = 0x1BA3_6C00_0000_0001
_GRACE = "now() - make_interval(secs => :grace)"
# Dead as liveness.host_state says: silent past the grace period AND past the host's own TTL, so
# a grace shorter than the TTL can never reclaim a host that is still heartbeating.
_DEAD = "{h}last_seen_at < now() - make_interval(secs => GREATEST(:grace, {h}heartbeat_ttl_seconds))"
_SILENT_PAST_GRACE = _DEAD.format(h="")
_H_DEAD = _DEAD.format(h="h.")


_LEASE_COLUMNS = (
    "h.name AS host, sp.name AS space, p.name AS pool, CAST(host(l.address) AS text) AS target, l.owner_id, l.interface"
)
_LEASE_JOINS = "JOIN pool p ON p.id = l.pool_id JOIN address_space sp ON sp.id = p.space_id"

_DEAD_HOSTS = Sql(
    f"SELECT id, name FROM host WHERE {_SILENT_PAST_GRACE} "
    "AND (CAST(:host AS text) IS NULL OR name = :host) ORDER BY name"
)
# A Docker network's gateway and aux addresses belong to the network, whichever host asked for
# them: they go with the network (ReleaseNetworkPool), never with a host.
_NETWORK_WIDE = (
    "(l.interface IN ('gateway', 'aux') AND EXISTS (SELECT 1 FROM host_subnet d "
    "WHERE d.id = l.subnet_id AND d.kind = 'docker'))"
)
_DEAD_HOST_LEASES = Sql(
    f"SELECT l.id, {_LEASE_COLUMNS} FROM lease l JOIN host h ON h.id = l.host_id {_LEASE_JOINS} "
    f"WHERE l.host_id = :host_id AND l.state = 'active' AND l.allocated_at < {_GRACE} "
    f"AND l.allocated_at <= :listed_at AND l.id > :after AND NOT {_NETWORK_WIDE} ORDER BY l.id LIMIT :limit"
)
# Records what it releases in the same statement.
_RELEASE_RECORDED = (
    "WITH released AS ("
    " UPDATE lease l SET state = 'released', released_at = now() FROM host h, pool p, address_space sp"
    " WHERE h.id = l.host_id AND p.id = l.pool_id AND sp.id = p.space_id"
    " AND l.id = ANY(CAST(:ids AS bigint[])) AND l.state = 'active'"
    " AND l.allocated_at <= :listed_at AND {condition}"
    f" RETURNING {_LEASE_COLUMNS}), "
    "recorded AS (INSERT INTO gc_record (reason, kind, host, space, pool, target, owner_id, interface, detail)"
    " SELECT :reason, 'lease', host, space, pool, target, owner_id, interface, :detail FROM released) "
    "SELECT host, space, pool, target, owner_id, interface FROM released"
)
_LOCK_DEAD_HOST = Sql(f"SELECT id FROM host WHERE id = :host_id AND {_SILENT_PAST_GRACE} FOR NO KEY UPDATE")
_RELEASE_DEAD = Sql(
    _RELEASE_RECORDED.format(condition=f"l.host_id = :host_id AND l.allocated_at < {_GRACE} AND NOT {_NETWORK_WIDE}")
)
_RELEASE_GONE = Sql(_RELEASE_RECORDED.format(condition="l.host_id = :host_id"))

_SUBNET_COLUMNS = "hs.id, h.name AS host, sp.name AS space, p.name AS pool, CAST(hs.cidr AS text) AS target"
_SUBNET_JOINS = (
    "JOIN host h ON h.id = hs.host_id JOIN pool p ON p.id = hs.pool_id JOIN address_space sp ON sp.id = hs.space_id"
)
_NO_ACTIVE_LEASE = "NOT EXISTS (SELECT 1 FROM lease l WHERE l.subnet_id = hs.id AND l.state = 'active')"
# Empty since before the grace period: created and last released before it.
_EMPTY_LONG_ENOUGH = (
    f"{_NO_ACTIVE_LEASE} AND hs.created_at < {_GRACE} AND NOT EXISTS (SELECT 1 FROM lease l "
    f"WHERE l.subnet_id = hs.id AND l.state = 'released' AND l.released_at >= {_GRACE})"
)
_HAS_NEWER = (
    "EXISTS (SELECT 1 FROM host_subnet newer WHERE newer.host_id = hs.host_id "
    "AND newer.pool_id = hs.pool_id AND newer.id > hs.id)"
)
# A live host's empty subnet is surplus beyond its newest one per pool, or any of a drained host
# (it takes no new allocations): a subnet `host delete` kept for borrowed leases goes so.
_SURPLUS = f"({_HAS_NEWER} OR h.drained_at IS NOT NULL)"
# An active lease in the subnet that this collection must not reclaim (another host's, or young).
_KEEPS_A_LEASE = (
    "EXISTS (SELECT 1 FROM lease l WHERE l.subnet_id = hs.id AND l.state = 'active' "
    f"AND NOT (l.host_id = hs.host_id AND l.allocated_at < {_GRACE} AND l.allocated_at <= :listed_at))"
)
# Subnets of a dead host holding nothing but leases this collection reclaims.
_DEAD_HOST_SUBNETS = Sql(
    f"SELECT {_SUBNET_COLUMNS} FROM host_subnet hs {_SUBNET_JOINS} WHERE hs.host_id = :host_id "
    f"AND NOT {_KEEPS_A_LEASE} ORDER BY hs.id"
)
_LOCK_WHOLE_DEAD_SUBNET = Sql(
    f"SELECT hs.pool_id, hs.idx FROM host_subnet hs WHERE hs.id = :id AND hs.host_id = :host_id "
    f"AND NOT {_KEEPS_A_LEASE} FOR UPDATE"
)
# Records the subnet's active leases (reclaimed with it) in one statement; returns how many, and
# the first :limit of them (a subnet may hold millions: they stay in the database).
_RECORD_SUBNET_LEASES = Sql(
    "WITH recorded AS (INSERT INTO gc_record (reason, kind, host, space, pool, target, owner_id, interface) "
    f"SELECT :reason, 'lease', {_LEASE_COLUMNS} FROM lease l JOIN host h ON h.id = l.host_id {_LEASE_JOINS} "
    "WHERE l.subnet_id = :id AND l.state = 'active' RETURNING host, space, pool, target, owner_id, interface) "
    "SELECT count(*) OVER (), host, space, pool, target, owner_id, interface FROM recorded LIMIT :limit"
)
_SURPLUS_SUBNETS = Sql(
    f"SELECT {_SUBNET_COLUMNS} FROM host_subnet hs {_SUBNET_JOINS} "
    f"WHERE NOT {_H_DEAD} AND (CAST(:host AS text) IS NULL OR h.name = :host) "
    f"AND {_EMPTY_LONG_ENOUGH} AND {_SURPLUS} ORDER BY hs.id"
)
# Locks the subnet (allocations into it wait) and checks the reason again.
_LOCK_SUBNET = (
    f"SELECT hs.id, hs.pool_id, hs.idx FROM host_subnet hs {_SUBNET_JOINS} "
    "WHERE hs.id = :id AND {condition} FOR UPDATE OF hs"
)
_LOCK_DEAD_SUBNET = Sql(_LOCK_SUBNET.format(condition=f"{_H_DEAD} AND {_NO_ACTIVE_LEASE}"))
_LOCK_SURPLUS_SUBNET = Sql(_LOCK_SUBNET.format(condition=f"NOT {_H_DEAD} AND {_EMPTY_LONG_ENOUGH} AND {_SURPLUS}"))
_DELETE_SUBNET = Sql("DELETE FROM host_subnet WHERE id = :id")
_FREE_BLOCK = Sql("INSERT INTO free_block (pool_id, idx) VALUES (:pool_id, :idx) ON CONFLICT DO NOTHING")
_RECORD = Sql(
    "INSERT INTO gc_record (reason, kind, host, space, pool, target, owner_id, interface, detail) "
    "VALUES (:reason, :kind, :host, :space, :pool, :target, :owner_id, :interface, :detail)"
)
_HOST_ACTIVE_LEASES = Sql(
    f"SELECT l.id, {_LEASE_COLUMNS} FROM lease l JOIN host h ON h.id = l.host_id {_LEASE_JOINS} "
    f"WHERE l.host_id = :host_id AND l.state = 'active' AND NOT {_NETWORK_WIDE} ORDER BY l.id"
)
# Docker networks the host is the only member of go with it; in the others, what it still holds
# (network-wide addresses, released rows) passes to another member.
_SOLE_DOCKER_NETWORKS = Sql(
    "SELECT d.id, h.name AS host, sp.name AS space, coalesce(p.name, '') AS pool, CAST(d.cidr AS text) AS cidr "
    "FROM docker_network_host m "
    "JOIN host_subnet d ON d.id = m.subnet_id JOIN host h ON h.id = m.host_id "
    "JOIN address_space sp ON sp.id = d.space_id LEFT JOIN pool p ON p.id = d.pool_id "
    "WHERE m.host_id = :host_id AND NOT EXISTS (SELECT 1 FROM docker_network_host o "
    "WHERE o.subnet_id = m.subnet_id AND o.host_id <> :host_id) FOR UPDATE OF d"
)
_DELETE_NETWORK = Sql("DELETE FROM host_subnet WHERE id = :id AND kind = 'docker'")
_PASS_ON_DOCKER_LEASES = Sql(
    "UPDATE lease l SET host_id = o.host_id FROM (SELECT subnet_id, min(host_id) AS host_id "
    "FROM docker_network_host WHERE host_id <> :host_id GROUP BY subnet_id) o "
    "WHERE l.subnet_id = o.subnet_id AND l.host_id = :host_id"
)
_LEAVE_DOCKER_NETWORKS = Sql("DELETE FROM docker_network_host WHERE host_id = :host_id")
# Released leases of the host in other hosts' subnets (a specific address) move to the subnet's host.
_REHOME_RELEASED = Sql(
    "UPDATE lease l SET host_id = hs.host_id FROM host_subnet hs "
    "WHERE hs.id = l.subnet_id AND l.host_id = :host_id AND hs.host_id <> :host_id AND l.state = 'released'"
)
_HOST_SUBNETS = Sql(f"SELECT {_SUBNET_COLUMNS} FROM host_subnet hs {_SUBNET_JOINS} WHERE hs.host_id = :host_id")
_SUBNET_BLOCK = Sql("SELECT pool_id, idx FROM host_subnet WHERE id = :id FOR UPDATE")
_RUNTIME_CANDIDATES = Sql(
    f"SELECT l.id, {_LEASE_COLUMNS} FROM lease l JOIN host h ON h.id = l.host_id {_LEASE_JOINS} "
    "WHERE l.host_id = :host_id AND l.state = 'active' AND l.attributes @> :match "
    "AND (:min_age = 0 OR l.allocated_at <= now() - make_interval(secs => :min_age)) "
    "AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:keep_owners AS text[]), CAST(:keep_interfaces AS text[])) "
    "AS k(owner_id, interface) WHERE k.owner_id = l.owner_id AND k.interface = l.interface) "
    "ORDER BY l.id FOR UPDATE OF l"
)
# Docker reconciliation: only what is older than :min_age is gone (dockerd asks for a pool or an
# address before its API shows the network or the endpoint).
_OLD_ENOUGH = "< now() - make_interval(secs => :min_age)"
_CONTAINER_GONE = (
    f"l.host_id = :host_id AND l.interface = 'container' AND l.allocated_at {_OLD_ENOUGH} "
    "AND NOT l.address = ANY(CAST(:addresses AS inet[]))"
)
_DOCKER_NETWORKS_GONE = Sql(
    "SELECT d.id, h.name AS host, sp.name AS space, coalesce(p.name, '') AS pool, CAST(d.cidr AS text) AS cidr "
    "FROM docker_network_host m JOIN host_subnet d ON d.id = m.subnet_id JOIN host h ON h.id = m.host_id "
    "JOIN address_space sp ON sp.id = d.space_id LEFT JOIN pool p ON p.id = d.pool_id "
    "WHERE m.host_id = :host_id AND d.space_id = :space_id AND d.kind = 'docker' "
    f"AND NOT d.cidr = ANY(CAST(:listed AS cidr[])) AND m.created_at {_OLD_ENOUGH} ORDER BY d.id"
)
# Checked again once the network is locked: still a member since before :min_age, and no young
# container address of the host in it (that would be dockerd using the network right now).
_LOCK_GONE_MEMBERSHIP = Sql(
    f"SELECT 1 FROM docker_network_host m WHERE m.subnet_id = :subnet_id AND m.host_id = :host_id "
    f"AND m.created_at {_OLD_ENOUGH} AND NOT EXISTS (SELECT 1 FROM lease l WHERE l.subnet_id = m.subnet_id "
    f"AND l.host_id = m.host_id AND l.state = 'active' AND l.interface = 'container' "
    f"AND l.allocated_at >= now() - make_interval(secs => :min_age)) FOR UPDATE"
)
_DOCKER_LEASES_GONE = Sql(
    "SELECT l.id FROM lease l JOIN host_subnet d ON d.id = l.subnet_id "
    "WHERE d.kind = 'docker' AND d.space_id = :space_id AND d.cidr = ANY(CAST(:listed AS cidr[])) "
    "AND EXISTS (SELECT 1 FROM docker_network_host m WHERE m.subnet_id = d.id AND m.host_id = :host_id) "
    f"AND l.state = 'active' AND {_CONTAINER_GONE} ORDER BY l.id FOR UPDATE OF l"
)
_RELEASE_DOCKER_GONE = Sql(_RELEASE_RECORDED.format(condition=_CONTAINER_GONE))
_DB_NOW = Sql("SELECT now()")
_HISTORY = Sql(
    "SELECT id, at, reason, kind, host, space, pool, target, owner_id, interface, detail FROM gc_record "
    "WHERE (CAST(:host AS text) IS NULL OR host = :host) AND (CAST(:reason AS text) IS NULL OR reason = :reason) "
    "AND (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :limit"
)


@contextmanager
def exclusive_run(engine: Engine) -> Iterator[bool]:
    """Holds the cluster-wide GC lock while inside (True), or yields False when another replica
    holds it. A session lock on a connection of its own: it goes when that connection goes."""
    with tx.session(engine) as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": GC_LOCK_KEY}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                with suppress(DBAPIError):  # a lost connection has dropped the lock already
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": GC_LOCK_KEY})
                    conn.commit()


def database_now(conn: Connection) -> datetime:
    return run(conn, _DB_NOW).scalar_one()


def dead_hosts(conn: Connection, grace: int, host: str | None) -> list[tuple[int, str]]:
    return [(int(row[0]), row[1]) for row in run(conn, _DEAD_HOSTS, {"grace": grace, "host": host})]


def dead_host_leases(
    conn: Connection, host_id: int, grace: int, listed_at: datetime, after: int, limit: int
) -> list[tuple[int, Reclaimed]]:
    """A page of candidates, by lease id."""
    params = {"host_id": host_id, "grace": grace, "listed_at": listed_at, "after": after, "limit": limit}
    return [(int(row[0]), _lease(row[1:], "dead_host")) for row in run(conn, _DEAD_HOST_LEASES, params)]


def release_dead_host_leases(
    conn: Connection, host_id: int, ids: list[int], grace: int, listed_at: datetime, reason: str
) -> list[Reclaimed]:
    """Release those of `ids` that are still reclaimable; nothing when the host came back."""
    if run(conn, _LOCK_DEAD_HOST, {"host_id": host_id, "grace": grace}).first() is None:
        return []
    params = {"ids": ids, "host_id": host_id, "grace": grace, "listed_at": listed_at, "reason": reason, "detail": ""}
    return [_lease(row, reason) for row in run(conn, _RELEASE_DEAD, params)]


def release_gone(
    conn: Connection, host_id: int, ids: list[int], listed_at: datetime, reason: str, detail: str
) -> list[Reclaimed]:
    """Release leases the runtime reported gone (still active, not re-allocated since listing)."""
    params = {"ids": ids, "host_id": host_id, "listed_at": listed_at, "reason": reason, "detail": detail}
    return [_lease(row, reason) for row in run(conn, _RELEASE_GONE, params)]


def reclaim_dead_subnet(
    conn: Connection, subnet_id: int, item: Reclaimed, host_id: int, grace: int, listed_at: datetime, max_items: int
) -> tuple[int, list[Reclaimed]] | None:
    """A dead host's subnet with every lease in it, when all of them are reclaimable (else None):
    the leases are recorded and deleted with the subnet, cheaper than releasing each first
    (the released rows would go with the subnet anyway), and their registry bookkeeping is left
    to the catch-up worker (registry_backlog). Returns how many leases went, and up to
    `max_items` of them."""
    if run(conn, _LOCK_DEAD_HOST, {"host_id": host_id, "grace": grace}).first() is None:
        return None
    params = {"id": subnet_id, "host_id": host_id, "grace": grace, "listed_at": listed_at}
    block = run(conn, _LOCK_WHOLE_DEAD_SUBNET, params).first()
    if block is None:
        return None
    rows = list(run(conn, _RECORD_SUBNET_LEASES, {"id": subnet_id, "reason": item.reason, "limit": max(max_items, 1)}))
    # The addresses are free at commit; the registry catches up on them in the background.
    registry_backlog.defer(conn)
    delete_subnet_recorded(conn, subnet_id, int(block[0]), int(block[1]), item)
    return (int(rows[0][0]) if rows else 0), [_lease(row[1:], item.reason) for row in rows[:max_items]]


def dead_host_subnets(conn: Connection, host_id: int, grace: int, listed_at: datetime) -> list[tuple[int, Reclaimed]]:
    params = {"host_id": host_id, "grace": grace, "listed_at": listed_at}
    return [(int(row[0]), _subnet(row[1:], "dead_host")) for row in run(conn, _DEAD_HOST_SUBNETS, params)]


def surplus_subnets(conn: Connection, grace: int, host: str | None) -> list[tuple[int, Reclaimed]]:
    rows = run(conn, _SURPLUS_SUBNETS, {"grace": grace, "host": host})
    return [(int(row[0]), _subnet(row[1:], "empty_subnet")) for row in rows]


def reclaim_subnet(conn: Connection, subnet_id: int, item: Reclaimed, grace: int) -> bool:
    """Delete the subnet and free its block if its reason still holds; False otherwise."""
    lock = _LOCK_DEAD_SUBNET if item.reason == "dead_host" else _LOCK_SURPLUS_SUBNET
    row = run(conn, lock, {"id": subnet_id, "grace": grace}).first()
    if row is None:
        return False
    delete_subnet_recorded(conn, subnet_id, int(row[1]), int(row[2]), item)
    return True


def delete_subnet_recorded(conn: Connection, subnet_id: int, pool_id: int, idx: int, item: Reclaimed) -> None:
    run(conn, _DELETE_SUBNET, {"id": subnet_id})
    run(conn, _FREE_BLOCK, {"pool_id": pool_id, "idx": idx})
    record(conn, item)


def host_active_leases(conn: Connection, host_id: int) -> list[tuple[int, Reclaimed]]:
    return [
        (int(row[0]), _lease(row[1:], "host_deleted")) for row in run(conn, _HOST_ACTIVE_LEASES, {"host_id": host_id})
    ]


def rehome_released(conn: Connection, host_id: int) -> None:
    run(conn, _REHOME_RELEASED, {"host_id": host_id})


def leave_docker_networks(conn: Connection, host_id: int, reason: str) -> list[Reclaimed]:
    """The host leaves its Docker networks: those only it used go (recorded), the others keep
    their addresses under another member."""
    gone = []
    for row in run(conn, _SOLE_DOCKER_NETWORKS, {"host_id": host_id}):
        network_id, host, space, pool, cidr = row
        run(conn, _DELETE_NETWORK, {"id": network_id})
        gone.append(Reclaimed(reason, "subnet", host, space, pool, cidr))
        record(conn, gone[-1], "Docker network")
    run(conn, _PASS_ON_DOCKER_LEASES, {"host_id": host_id})
    run(conn, _LEAVE_DOCKER_NETWORKS, {"host_id": host_id})
    return gone


def host_subnets(conn: Connection, host_id: int) -> list[tuple[int, Reclaimed]]:
    return [(int(row[0]), _subnet(row[1:], "host_deleted")) for row in run(conn, _HOST_SUBNETS, {"host_id": host_id})]


def subnet_block(conn: Connection, subnet_id: int) -> tuple[int, int]:
    row = run(conn, _SUBNET_BLOCK, {"id": subnet_id}).one()
    return int(row[0]), int(row[1])


def runtime_candidates(
    conn: Connection, host_id: int, match: dict[str, str], keep: list[tuple[str, str]], min_age: int
) -> list[tuple[int, Reclaimed]]:
    """The host's active leases whose attributes include `match`, whose owner key is not in
    `keep` and which are at least `min_age` seconds old, locked until commit."""
    params = {
        "min_age": min_age,
        "host_id": host_id,
        "match": Jsonb(match),
        "keep_owners": [owner for owner, _ in keep],
        "keep_interfaces": [interface for _, interface in keep],
    }
    return [(int(row[0]), _lease(row[1:], "runtime_gone")) for row in run(conn, _RUNTIME_CANDIDATES, params)]


def docker_networks_gone(
    conn: Connection, host_id: int, space_id: int, listed: list[str], min_age: int
) -> list[tuple[int, Reclaimed]]:
    """The host's Docker networks of the space not in `listed`, members for longer than `min_age`."""
    params = {"host_id": host_id, "space_id": space_id, "listed": listed, "min_age": min_age}
    rows = run(conn, _DOCKER_NETWORKS_GONE, params)
    return [(int(row[0]), Reclaimed("runtime_gone", "subnet", *row[1:])) for row in rows]


def lock_gone_membership(conn: Connection, network_id: int, host_id: int, min_age: int) -> bool:
    """Whether the host may still leave the network (lock it first); the membership stays locked."""
    params = {"subnet_id": network_id, "host_id": host_id, "min_age": min_age}
    return run(conn, _LOCK_GONE_MEMBERSHIP, params).first() is not None


def docker_leases_gone(
    conn: Connection, host_id: int, space_id: int, listed: list[str], addresses: list[str], min_age: int
) -> list[int]:
    """Ids of the host's container leases in the `listed` networks it is a member of, older than
    `min_age` and not at one of `addresses`; locked until commit."""
    params = {"host_id": host_id, "space_id": space_id, "listed": listed, "addresses": addresses, "min_age": min_age}
    return [int(row[0]) for row in run(conn, _DOCKER_LEASES_GONE, params)]


def release_docker_gone(
    conn: Connection, host_id: int, ids: list[int], addresses: list[str], min_age: int, detail: str
) -> list[Reclaimed]:
    """Release those of `ids` that are still container leases of the host, old enough and not at
    one of `addresses`; recorded as runtime_gone."""
    if not ids:
        return []
    params = {
        "ids": ids,
        "host_id": host_id,
        "addresses": addresses,
        "min_age": min_age,
        "listed_at": database_now(conn),
        "reason": "runtime_gone",
        "detail": detail,
    }
    return [_lease(row, "runtime_gone") for row in run(conn, _RELEASE_DOCKER_GONE, params)]


def record(conn: Connection, item: Reclaimed, detail: str = "") -> None:
    run(conn, _RECORD, {**item.__dict__, "detail": detail})


def history(conn: Connection, host: str | None, reason: str | None, page: PageRequest) -> list[HistoryRow]:
    params = {"host": host, "reason": reason, "before": page.after, "limit": page.size + 1}
    return [HistoryRow(*row) for row in run(conn, _HISTORY, params)]


def _lease(row: Any, reason: str) -> Reclaimed:
    host, space, pool, target, owner_id, interface = row
    return Reclaimed(reason, "lease", host, space, pool, target, owner_id, interface)


def _subnet(row: Any, reason: str) -> Reclaimed:
    host, space, pool, target = row
    return Reclaimed(reason, "subnet", host, space, pool, target)
