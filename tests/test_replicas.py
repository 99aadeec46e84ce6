"""Two `ipam serve` replicas on one database under concurrent load: the database stays consistent.

32 client threads over 8 hosts alternate between replica A and replica B. They allocate (IPv4 from a
/16 cut into /26 host subnets, so every host needs several subnets; IPv6; dual-stack), retry some
owner keys on the other replica, race each other for shared owner keys on both replicas at once,
and release a fraction (by owner key or by address). Every acknowledged answer is written down;
afterwards the database itself, not the API, is checked: no address, slot or block is held twice,
no host subnets overlap, every acknowledged lease is there and every acknowledged release took.

The load is a fixed number of operations, not a duration; nothing here measures time.
"""

from __future__ import annotations

import ipaddress
import random
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from db_invariants import INVARIANTS
from processes import ServerProcessFactory
from sqlalchemy import Engine, text

from ipam_client import AddressSpec, IpamClient, IpamClientError, pb

CLIENTS = 32
HOSTS = 8
CLIENTS_PER_HOST = CLIENTS // HOSTS
OPS_PER_CLIENT = 64
# Every SHARED_EVERY-th operation, the clients of one host all allocate the same owner key at once,
# each through its own replica (two go to A, two to B).
SHARED_EVERY = 4
RELEASE_FRACTION = 0.3
RETRY_FRACTION = 0.25
DUAL_STACK_FRACTION = 0.2
V6_ONLY_FRACTION = 0.1
CALL_TIMEOUT = 60.0

V4_POOL, V4_CIDR, V4_HOST_PREFIX = "replicas-v4", "10.64.0.0/16", 26
V6_POOL, V6_CIDR, V6_HOST_PREFIX = "replicas-v6", "fd00:64::/48", 64
IFACE = "eth0"

# (owner_id, interface, pool): an owner key holds at most one active lease per pool.
LeaseKey = tuple[str, str, str]


def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))


@dataclass
class Ledger:
    """What the replicas acknowledged, shared by the client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # Acknowledged and not released since: key -> (address, host).
    held: dict[LeaseKey, tuple[str, str]] = field(default_factory=dict)
    # Acknowledged releases: key -> the address it released.
    released: dict[LeaseKey, str] = field(default_factory=dict)
    # Owner keys allocated by several racing clients: key -> every (address, host) acknowledged.
    shared: dict[LeaseKey, set[tuple[str, str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    allocations: int = 0
    retries: int = 0
    releases: int = 0

    def problem(self, message: str) -> None:
        with self.lock:
            self.problems.append(message)

    def hold(self, leases: Sequence[pb.Lease]) -> None:
        with self.lock:
            self.allocations += 1
            for lease in leases:
                self.held[(lease.owner_id, lease.interface, lease.pool)] = (_canonical(lease.address), lease.host)

    def release(self, keys: Sequence[LeaseKey]) -> None:
        with self.lock:
            self.releases += 1
            for key in keys:
                self.released[key] = self.held.pop(key)[0]

    def share(self, leases: Sequence[pb.Lease]) -> None:
        with self.lock:
            for lease in leases:
                key = (lease.owner_id, lease.interface, lease.pool)
                self.shared.setdefault(key, set()).add((_canonical(lease.address), lease.host))


def _addresses(leases: Sequence[pb.Lease]) -> dict[str, str]:
    """pool -> address of the leases of one reply."""
    return {lease.pool: _canonical(lease.address) for lease in leases}


class Client:
    """One client thread: its host, its two connections (replica A and B) and its own owner keys."""

    def __init__(
        self, number: int, replicas: Sequence[str], ledger: Ledger, start: threading.Barrier, race: threading.Barrier
    ) -> None:
        self.number = number
        self.host = f"host-{number % HOSTS}"
        self.replicas = list(replicas)
        self.ledger = ledger
        self.start = start
        self.race = race
        self.rng = random.Random(number)
        # Owners of this client that hold every lease they got: owner -> {pool: address}.
        self.mine: dict[str, dict[str, str]] = {}

    def run(self) -> None:
        connections = [IpamClient(address, timeout=CALL_TIMEOUT) for address in self.replicas]
        try:
            self.start.wait()
            for op in range(OPS_PER_CLIENT):
                # Clients of one host differ in number // HOSTS: half of them start on each replica.
                side = (self.number // HOSTS + op) % 2
                here, there = connections[side], connections[1 - side]
                try:
                    if op % SHARED_EVERY == SHARED_EVERY - 1:
                        self.race_for_shared_owner(here, op)
                    elif self.mine and self.rng.random() < RELEASE_FRACTION:
                        self.release_one(here, there)
                    else:
                        self.allocate_own(here, there, op)
                except IpamClientError as exc:
                    self.ledger.problem(f"client {self.number} op {op} via {here.server}: {exc!r}")
        except Exception:
            self.ledger.problem(f"client {self.number} crashed:\n{traceback.format_exc()}")
            self.race.abort()
        finally:
            for connection in connections:
                connection.close()

    def _specs(self) -> list[AddressSpec]:
        draw = self.rng.random()
        if draw < DUAL_STACK_FRACTION:
            return [AddressSpec(pool=V4_POOL), AddressSpec(pool=V6_POOL)]
        if draw < DUAL_STACK_FRACTION + V6_ONLY_FRACTION:
            return [AddressSpec(pool=V6_POOL)]
        return [AddressSpec(pool=V4_POOL)]

    def _check_reply(self, what: str, reply: pb.AllocateResponse, owner: str, specs: Sequence[AddressSpec]) -> bool:
        pools = sorted(lease.pool for lease in reply.leases)
        wrong = [
            lease
            for lease in reply.leases
            if lease.owner_id != owner
            or lease.interface != IFACE
            or lease.host != self.host
            or lease.state != pb.LEASE_STATE_ACTIVE
        ]
        if pools != sorted(spec.pool for spec in specs) or wrong:
            self.ledger.problem(f"client {self.number}: {what} of {owner} answered {reply}")
            return False
        return True

    def allocate_own(self, here: IpamClient, there: IpamClient, op: int) -> None:
        owner = f"c{self.number}-o{op}"
        specs = self._specs()
        reply = here.allocate(self.host, owner, IFACE, specs)
        if not self._check_reply("allocate", reply, owner, specs):
            return
        if reply.already_allocated:
            self.ledger.problem(f"client {self.number}: new owner {owner} came back as already allocated")
        self.ledger.hold(reply.leases)
        self.mine[owner] = _addresses(reply.leases)
        if self.rng.random() < RETRY_FRACTION:  # as after a lost reply: same owner key, other replica
            again = there.allocate(self.host, owner, IFACE, specs)
            with self.ledger.lock:
                self.ledger.retries += 1
            if not self._check_reply("retried allocate", again, owner, specs):
                return
            if not again.already_allocated or _addresses(again.leases) != self.mine[owner]:
                self.ledger.problem(
                    f"client {self.number}: retry of {owner} via {there.server} answered "
                    f"{_addresses(again.leases)} (already_allocated={again.already_allocated}), "
                    f"first answer was {self.mine[owner]}"
                )

    def release_one(self, here: IpamClient, there: IpamClient) -> None:
        owner = self.rng.choice(sorted(self.mine))
        held = self.mine.pop(owner)  # released owners are never used again
        if len(held) == 1 or self.rng.random() < 0.5:
            reply = here.release_owner(owner, IFACE)
            expected = held
        else:  # release one of a dual-stack owner's addresses; the other one stays held
            pool = self.rng.choice(sorted(held))
            reply = here.release_address(held[pool])
            expected = {pool: held[pool]}
        got = _addresses(reply.leases)
        owners = {(lease.owner_id, lease.interface) for lease in reply.leases}
        if reply.already_released or got != expected or owners != {(owner, IFACE)}:
            self.ledger.problem(
                f"client {self.number}: release of {owner} {expected} answered {got} owned by {owners} "
                f"(already_released={reply.already_released})"
            )
            return
        self.ledger.release([(owner, IFACE, pool) for pool in expected])
        if expected == held and self.rng.random() < RETRY_FRACTION:
            again = there.release_owner(owner, IFACE)
            if not again.already_released or again.leases:
                self.ledger.problem(f"client {self.number}: repeated release of {owner} answered {again}")

    def race_for_shared_owner(self, here: IpamClient, op: int) -> None:
        owner = f"shared-{self.host}-o{op}"
        # Every client of the host asks for the same thing (so their requests are identical).
        specs = [AddressSpec(pool=V4_POOL)]
        if op % (2 * SHARED_EVERY) == SHARED_EVERY - 1:
            specs.append(AddressSpec(pool=V6_POOL))
        self.race.wait()  # the host's clients go together, half through each replica
        reply = here.allocate(self.host, owner, IFACE, specs)
        if self._check_reply("racing allocate", reply, owner, specs):
            self.ledger.share(reply.leases)


def _run_clients(replicas: Sequence[str], ledger: Ledger) -> None:
    start = threading.Barrier(CLIENTS, timeout=120)
    races = [threading.Barrier(CLIENTS_PER_HOST, timeout=120) for _ in range(HOSTS)]
    clients = [Client(n, replicas, ledger, start, races[n % HOSTS]) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, name=f"client-{c.number}") for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)))


_ACTIVE = """
    SELECT l.owner_id, l.interface, p.name AS pool, host(l.address) AS address, h.name AS host
    FROM lease l JOIN pool p ON p.id = l.pool_id JOIN host h ON h.id = l.host_id WHERE l.state = 'active'"""

_SUBNETS_PER_HOST = """
    SELECT h.name, count(*) FROM host_subnet hs JOIN host h ON h.id = hs.host_id JOIN pool p ON p.id = hs.pool_id
    WHERE p.name = :pool GROUP BY h.name"""


@pytest.mark.timeout(300)
def test_two_replicas_under_concurrent_load_keep_the_database_consistent(
    server_process_factory: ServerProcessFactory, engine: Engine
) -> None:
    replicas = [server_process_factory().address, server_process_factory().address]
    with IpamClient(replicas[0], timeout=CALL_TIMEOUT) as admin:
        admin.create_pool(V4_POOL, V4_CIDR, V4_HOST_PREFIX)
        admin.create_pool(V6_POOL, V6_CIDR, V6_HOST_PREFIX)
        for h in range(HOSTS):
            admin.register_host(f"host-{h}", {"rack": str(h % 2)})

    ledger = Ledger()
    _run_clients(replicas, ledger)
    assert not ledger.problems, "\n".join(ledger.problems[:20])
    assert ledger.allocations > CLIENTS * OPS_PER_CLIENT // 2  # the load did happen
    assert ledger.releases > 0 and ledger.retries > 0

    for name, sql in INVARIANTS.items():
        assert _rows(engine, sql) == [], name

    active = {(r.owner_id, r.interface, r.pool): (_canonical(r.address), r.host) for r in _rows(engine, _ACTIVE)}

    # Racing clients of one owner key were all given the same lease, and it is there.
    split = {key: seen for key, seen in ledger.shared.items() if len(seen) != 1}
    assert not split, f"owner keys given different addresses by racing requests: {split}"
    shared = {key: next(iter(seen)) for key, seen in ledger.shared.items()}
    assert len(shared) == HOSTS * (OPS_PER_CLIENT // SHARED_EVERY) * 3 // 2  # half of them dual-stack

    # Every acknowledged lease not released since is active, with the same address on the same host.
    expected = {**ledger.held, **shared}
    missing = {key: where for key, where in expected.items() if active.get(key) != where}
    assert not missing, f"acknowledged leases missing or changed in the database: {missing}"
    # Every acknowledged release took: its owner key holds nothing in that pool any more.
    still_active = {key: active[key] for key in ledger.released if key in active}
    assert not still_active, f"released owner keys still hold active leases: {still_active}"
    # And nothing is active that nobody was told about (every call was acknowledged).
    unknown = {key: where for key, where in active.items() if key not in expected}
    assert not unknown, f"active leases no client was given: {unknown}"

    # The load did what it was meant to: hosts needed more than one IPv4 host subnet each.
    with engine.connect() as conn:
        per_host = {name: count for name, count in conn.execute(text(_SUBNETS_PER_HOST), {"pool": V4_POOL})}
    assert len(per_host) == HOSTS
    assert max(per_host.values()) >= 2, per_host
