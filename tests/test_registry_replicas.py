"""The watch stream across two `ipam serve` replicas on one database.

A watcher on replica A sees what is committed through replica B, in order, with no gap, also
after its replica is killed and it resumes elsewhere from the last revision it got; with writers
on both replicas at once, every change reaches watchers on both exactly once, in the order of
the revisions the database holds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from processes import ServerProcessFactory
from registry_checks import Watch, assert_consecutive, caught_up, head_revision, kinds
from sqlalchemy import Engine, text

from ipam_client import AddressSpec, IpamClient

WRITERS = 8
OPS_PER_WRITER = 25
# One row per event, as the event log stores them (rows of up to 1,000 events).
STORED_EVENTS = (
    "SELECT b.revision + o.n - 1 AS revision, o.endpoint_id, o.kind FROM event b "
    "CROSS JOIN LATERAL unnest(b.endpoint_ids, b.kinds) WITH ORDINALITY AS o(endpoint_id, kind, n)"
)


def setup(client: IpamClient) -> None:
    client.create_pool("r4", "10.80.0.0/16", 24)
    client.create_pool("r6", "fd00:80::/48", 64)
    for h in range(4):
        client.register_host(f"h{h}")


def test_watch_on_a_sees_changes_made_through_b_in_order_across_a_reconnect(
    server_process_factory: ServerProcessFactory,
) -> None:
    replica_a = server_process_factory()
    replica_b = server_process_factory()
    with IpamClient(replica_a.address, retries=0) as on_a, IpamClient(replica_b.address, retries=0) as on_b:
        setup(on_b)
        start = head_revision(on_a)
        watch = Watch(on_a, start)
        on_b.allocate("h0", "c1", "eth0", [AddressSpec(pool="r4"), AddressSpec(pool="r6")], {"K8S_POD_NAME": "web"})
        on_b.allocate("h1", "c2", "eth0", [AddressSpec(pool="r4")])
        on_b.update_endpoint_labels("c2", "eth0", {"tier": "db"})
        on_b.release_owner("c1", "eth0")
        before = watch.take(5)
        assert_consecutive(before, start)
        assert kinds(before) == [
            ("c1", "added"),
            ("c1", "updated"),
            ("c2", "added"),
            ("c2", "updated"),
            ("c1", "removed"),
        ]
        assert dict(before[3].endpoint.labels) == {"tier": "db"}

        replica_a.kill()  # the watcher's server dies; changes go on through B meanwhile
        on_b.release_owner("c2", "eth0")
        on_b.allocate("h2", "c3", "eth0", [AddressSpec(pool="r4")])
        replica_c = server_process_factory()
        with IpamClient(replica_c.address, retries=0) as on_c:
            after = Watch(on_c, before[-1].revision).take(2)
    assert_consecutive(after, before[-1].revision)
    assert kinds(after) == [("c2", "removed"), ("c3", "added")]


def test_concurrent_writers_on_both_replicas_every_change_reaches_each_watcher_once(
    server_process_factory: ServerProcessFactory, engine: Engine
) -> None:
    replicas = [server_process_factory(), server_process_factory()]
    clients = [IpamClient(r.address, retries=3, timeout=60) for r in replicas]
    try:
        setup(clients[0])
        start = head_revision(clients[0])
        watches = [Watch(c, start) for c in clients]

        def write(n: int) -> None:
            ipam = clients[n % 2]
            rng = random.Random(n)
            held: list[str] = []
            for i in range(OPS_PER_WRITER):
                if held and rng.random() < 0.4:
                    clients[rng.randrange(2)].release_owner(held.pop(rng.randrange(len(held))), "eth0")
                else:
                    owner = f"w{n}-{i}"
                    ipam.allocate(f"h{n % 4}", owner, "eth0", [AddressSpec(pool="r4")], {"app": f"a{n}"})
                    held.append(owner)

        writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        with engine.connect() as conn:
            expected = conn.execute(text("SELECT coalesce(sum(size), 0) FROM event")).scalar_one()
            kinds_by_owner = conn.execute(
                text(
                    f"SELECT e.owner_id, count(*) FROM ({STORED_EVENTS}) s "
                    "JOIN endpoint e ON e.id = s.endpoint_id GROUP BY 1"
                )
            ).all()
        seen = [w.take(expected) for w in watches]
        assert all(w.pending() == 0 for w in watches)  # nothing beyond, nothing twice
    finally:
        for c in clients:
            c.close()
    with engine.connect() as conn:
        stored = conn.execute(text(f"{STORED_EVENTS} ORDER BY revision")).all()
    assert [r.revision for r in stored] == list(range(start + 1, start + 1 + expected))  # numbered, gap-free
    for events in seen:
        assert_consecutive(events, start)
        assert [(e.revision, e.endpoint.id) for e in events] == [(r.revision, r.endpoint_id) for r in stored]
        assert Counter(e.endpoint.owner_id for e in events) == dict(kinds_by_owner)
        for owner, steps in _by_owner(kinds(events)).items():
            assert steps[0] == "added", owner
            assert "added" not in steps[1:], owner
            assert "removed" not in steps[:-1], owner


def _by_owner(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for owner, kind in pairs:
        found.setdefault(owner, []).append(kind)
    return found


def test_dead_hosts_reclaimed_with_two_replicas_reach_each_watcher_once(
    server_process_factory: ServerProcessFactory, engine: Engine
) -> None:
    """The registry's catch-up on reclaimed subnets runs in both replicas; each backlog row is
    applied once, so each removed endpoint is one event for every watcher."""
    replicas = [server_process_factory(), server_process_factory()]
    with IpamClient(replicas[0].address, retries=0) as on_a, IpamClient(replicas[1].address, retries=0) as on_b:
        setup(on_a)
        start = head_revision(on_a)
        watches = [Watch(on_a, start), Watch(on_b, start)]
        owners = [f"h{h}-{i}" for h in range(4) for i in range(5)]
        for owner in owners:
            on_a.allocate(owner.split("-")[0], owner, "eth0", [AddressSpec(pool="r4")])
        for watch in watches:
            assert sorted(kinds(watch.take(len(owners)))) == sorted((owner, "added") for owner in owners)
        with engine.begin() as conn:
            conn.execute(text("UPDATE host SET last_seen_at = now() - interval '1 day'"))
            conn.execute(text("UPDATE lease SET allocated_at = allocated_at - interval '1 day'"))
            conn.execute(text("UPDATE host_subnet SET created_at = created_at - interval '1 day'"))
        reply = on_b.run_gc(grace_seconds=3600)
        assert sum(c.reclaimed for c in reply.counts) == len(owners) + 4  # the leases and 4 subnets
        seen = [w.take(len(owners)) for w in watches]
        caught_up(engine)
        assert all(w.pending() == 0 for w in watches)
    for events in seen:
        assert_consecutive(events, start + len(owners))
        assert sorted(kinds(events)) == sorted((owner, "removed") for owner in owners)
