"""kill -9 (or SIGTERM, a rolling restart) one of two replicas while 16 clients allocate through
both: no acknowledged lease is lost and nothing is allocated twice once the clients have retried.

Each client's channel knows both replicas (one target, `ipv4:A,B`, round robin), as a deployment
behind an address list does. Replica A is killed once a third of the allocations are done; calls
in flight on it fail with UNAVAILABLE and the client retries them on B with the same owner key.
The load is a fixed number of operations; nothing here measures time.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field

import pytest
from db_invariants import INVARIANTS
from processes import ServerProcessFactory
from sqlalchemy import Engine, text

from ipam_client import AddressSpec, IpamClient, IpamClientError, Unavailable

CLIENTS = 16
HOSTS = 4
ALLOCATIONS_PER_CLIENT = 48
KILL_AFTER = CLIENTS * ALLOCATIONS_PER_CLIENT // 3
# A call that failed even after the client library's own retries is tried again by the caller, as
# the agent does for a CNI ADD: the same owner key, so the same address comes back.
CALLER_ATTEMPTS = 20
POOL, CIDR, HOST_PREFIX = "kill-v4", "10.96.0.0/16", 26
ROUND_ROBIN = [("grpc.lb_policy_name", "round_robin"), ("grpc.max_reconnect_backoff_ms", 1000)]


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: dict[str, str] = field(default_factory=dict)  # owner -> address
    caller_retries: int = 0
    errors: list[str] = field(default_factory=list)
    enough: threading.Event = field(default_factory=threading.Event)

    def ack(self, owner: str, address: str) -> None:
        with self.lock:
            if self.acknowledged.setdefault(owner, address) != address:
                self.errors.append(f"{owner} was given {self.acknowledged[owner]} and then {address}")
            if len(self.acknowledged) >= KILL_AFTER:
                self.enough.set()


def _client(target: str, n: int, ledger: Ledger) -> None:
    host = f"host-{n % HOSTS}"
    try:
        with IpamClient(target, timeout=30, retries=8, channel_options=ROUND_ROBIN) as ipam:
            for i in range(ALLOCATIONS_PER_CLIENT):
                owner = f"c{n}-{i}"
                for attempt in range(CALLER_ATTEMPTS):
                    try:
                        reply = ipam.allocate(host, owner, "eth0", [AddressSpec(pool=POOL)])
                        break
                    except Unavailable:
                        with ledger.lock:
                            ledger.caller_retries += 1
                        time.sleep(0.2 * (attempt + 1))
                else:
                    raise AssertionError(f"{owner}: still UNAVAILABLE after {CALLER_ATTEMPTS} tries")
                ledger.ack(owner, reply.leases[0].address)
    except (IpamClientError, AssertionError) as exc:
        ledger.errors.append(f"client {n}: {exc}")
    except Exception:
        ledger.errors.append(traceback.format_exc())


@pytest.mark.timeout(300)
@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_stopping_a_replica_under_load_loses_no_acknowledged_lease(
    how: str, server_process_factory: ServerProcessFactory, engine: Engine
) -> None:
    doomed, survivor = server_process_factory(), server_process_factory()
    with IpamClient(survivor.address, retries=0) as admin:
        admin.create_pool(POOL, CIDR, HOST_PREFIX)
        for h in range(HOSTS):
            admin.register_host(f"host-{h}")
    target = f"ipv4:{doomed.address},{survivor.address}"
    ledger = Ledger()
    threads = [threading.Thread(target=_client, args=(target, n, ledger)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    ledger.enough.wait(timeout=240)
    if how == "kill -9":
        doomed.kill()  # no graceful stop: calls in flight are cut
    else:
        assert doomed.stop() == 0  # graceful: calls in flight finish, new ones go to the survivor
    acknowledged_before_kill = len(ledger.acknowledged)
    for thread in threads:
        thread.join()

    assert not ledger.errors, "\n".join(ledger.errors[:10])
    assert KILL_AFTER <= acknowledged_before_kill < CLIENTS * ALLOCATIONS_PER_CLIENT  # killed mid-load
    assert len(ledger.acknowledged) == CLIENTS * ALLOCATIONS_PER_CLIENT
    allocate_line = "method=/ipam.v1.LeaseService/Allocate code=OK"  # both replicas served (access log)
    assert allocate_line in doomed.output() and allocate_line in survivor.output()
    print(f"acknowledged before the kill: {acknowledged_before_kill}; caller retries: {ledger.caller_retries}")
    with engine.connect() as conn:
        for name, sql in INVARIANTS.items():
            assert list(conn.execute(text(sql))) == [], name
        rows = conn.execute(text("SELECT owner_id, host(address), state FROM lease")).all()
    # Every acknowledged lease is there, active, at the acknowledged address, and nothing else is.
    assert sorted((owner, address, "active") for owner, address in ledger.acknowledged.items()) == sorted(
        (r[0], r[1], r[2]) for r in rows
    )
