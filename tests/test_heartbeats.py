"""Heartbeats written together: those that arrive while one is being written share the next
statement and transaction, and each caller still gets its own host's record once it committed."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, text

from ipam.domain.liveness import DEFAULT_GRACE_SECONDS, DEFAULT_TTL_SECONDS
from ipam.domain.records import HostRecord
from ipam.service.hosts import Heartbeats, Registration, register_host
from ipam_client import IpamClient

DEADLINE = 30.0  # only stops a hang
GRACE = DEFAULT_GRACE_SECONDS


def queued(heartbeats: Heartbeats) -> int | None:
    """Heartbeats waiting for the one being written; None when none is being written."""
    with heartbeats._batches._lock:
        if GRACE not in heartbeats._batches._busy:
            return None
        return len(heartbeats._batches._queues.get(GRACE, []))


def wait_for_queue(heartbeats: Heartbeats, length: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while queued(heartbeats) != length:
        assert time.monotonic() < deadline, f"timed out waiting for {length} queued heartbeats"
        time.sleep(0.001)


def last_seen(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return {name: at for name, at in conn.execute(text("SELECT name, last_seen_at FROM host"))}


def test_heartbeats_arriving_during_a_write_are_written_in_one_transaction(engine: Engine) -> None:
    names = [f"h{i}" for i in range(20)]
    for name in names:
        register_host(engine, name, {}, 0, GRACE)
    heartbeats = Heartbeats(engine, GRACE)
    answers: dict[str, HostRecord] = {}

    def beat(name: str) -> None:
        answers[name] = heartbeats.register(name, {"beat": name}, 0)

    threads = [threading.Thread(target=beat, args=(name,), daemon=True) for name in names]
    with engine.connect() as holder:  # h0's row locked: its write waits, the others queue up
        holder.execute(text("SELECT 1 FROM host WHERE name = 'h0' FOR UPDATE"))
        threads[0].start()
        wait_for_queue(heartbeats, 0)  # h0 being written, alone
        for thread in threads[1:]:
            thread.start()
        wait_for_queue(heartbeats, len(names) - 1)
        holder.rollback()
    for thread in threads:
        thread.join(DEADLINE)
    seen = last_seen(engine)
    # One transaction: now() is the same for all of them, another than h0's.
    assert len({seen[name] for name in names[1:]}) == 1
    assert seen["h0"] != seen["h1"]
    for name in names:
        assert answers[name].name == name and answers[name].labels == {"beat": name}
        assert answers[name].last_seen_at == seen[name]


def test_a_batch_answers_each_registration_as_if_each_came_alone(engine: Engine) -> None:
    register_host(engine, "old", {"v": "0"}, 120, GRACE)
    heartbeats = Heartbeats(engine, GRACE)
    batch = [
        Registration("old", {"v": "1"}, None),  # keeps its TTL
        Registration("new", {}, None),  # gets the default
        Registration("old", {"v": "2"}, None),  # the same host again: after the first
        Registration("set", {}, 45),
    ]
    outcomes = heartbeats._register(GRACE, batch)
    assert [(o.name, o.labels, o.heartbeat_ttl_seconds) for o in outcomes if isinstance(o, HostRecord)] == [
        ("old", {"v": "1"}, 120),
        ("new", {}, DEFAULT_TTL_SECONDS),
        ("old", {"v": "2"}, 120),
        ("set", {}, 45),
    ]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT labels FROM host WHERE name = 'old'")).scalar_one() == {"v": "2"}


def test_many_hosts_heartbeating_at_once_over_grpc_each_get_their_own_answer(server: str) -> None:
    def beat(i: int) -> tuple[str, dict[str, str]]:
        with IpamClient(server, retries=0) as ipam:
            host = ipam.register_host(f"node-{i}", {"n": str(i)})
            host = ipam.register_host(f"node-{i}", {"n": str(i), "again": "yes"})
            return host.name, dict(host.labels)

    with ThreadPoolExecutor(64) as pool:
        answers = list(pool.map(beat, range(64)))
    assert answers == [(f"node-{i}", {"n": str(i), "again": "yes"}) for i in range(64)]
