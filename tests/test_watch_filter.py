"""Filtered watch streams over real gRPC against the real database: WatchEndpoints with the filters
of ListEndpoints shows what a list with them shows, and a list followed by a watch from the list's
revision follows that list (an endpoint that stops or starts matching is removed / added)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from api_checks import fails
from cli_checks import Cli, ok, one_error_line
from processes import ServerProcessFactory
from registry_checks import EVENT_WAIT_SECONDS, Watch, head_revision, kinds
from sqlalchemy import Engine

from ipam.domain.selector import parse_selector
from ipam.server import registry_convert as convert
from ipam.service import registry
from ipam.service.registry import EndpointFilters
from ipam.store import events as event_store
from ipam.store import tx
from ipam_client import AddressSpec, InvalidArgument, IpamClient, NotFound, OutOfRange, registry_pb

ACTIVE = registry_pb.ENDPOINT_STATE_ACTIVE
ADDED = registry_pb.ENDPOINT_EVENT_TYPE_ADDED
UPDATED = registry_pb.ENDPOINT_EVENT_TYPE_UPDATED
REMOVED = registry_pb.ENDPOINT_EVENT_TYPE_REMOVED
PENDING = "SELECT EXISTS (SELECT 1 FROM event WHERE revision IS NULL)"


@pytest.fixture
def pools(client: IpamClient) -> None:
    client.create_pool("pa", "10.1.0.0/16", 24, cooldown_seconds=0)
    client.create_pool("pb", "10.2.0.0/16", 24, cooldown_seconds=0)
    client.register_host("h1")
    client.register_host("h2")


def listed(client: IpamClient, **filters: str) -> tuple[dict[int, registry_pb.Endpoint], int]:
    """The live endpoints the filters select (one page: one snapshot), and the revision it reflects."""
    page = client.list_endpoints_page(registry_pb.ListEndpointsRequest(state=ACTIVE, page_size=1000, **filters))
    assert not page.next_page_token
    return {e.id: e for e in page.endpoints}, page.revision


def apply(mirror: dict[int, registry_pb.Endpoint], events: list[registry_pb.EndpointEvent]) -> None:
    for event in events:
        if event.type == REMOVED:
            mirror.pop(event.endpoint.id, None)
        else:
            mirror[event.endpoint.id] = event.endpoint


def labels(client: IpamClient, owner: str, **values: str) -> None:
    client.update_endpoint_labels(owner, "eth0", values)


@pytest.mark.usefixtures("pools")
def test_each_filter_keeps_only_the_changes_of_the_endpoints_it_selects(client: IpamClient) -> None:
    start = head_revision(client)
    by_host = Watch(client, start, host="h2")
    by_network = Watch(client, start, network="blue")
    by_pool = Watch(client, start, pool="pb")
    by_selector = Watch(client, start, label_selector="app=web,!legacy")
    client.allocate("h1", "a", "eth0", [AddressSpec(pool="pa")], {"network": "red", "app": "web", "legacy": "1"})
    client.allocate("h2", "b", "eth0", [AddressSpec(pool="pa")], {"network": "red"})
    client.allocate("h1", "c", "eth0", [AddressSpec(pool="pb")], {"network": "blue", "app": "web"})
    client.release_owner("a", "eth0")
    client.release_owner("b", "eth0")
    client.release_owner("c", "eth0")
    assert kinds(by_host.take(2)) == [("b", "added"), ("b", "removed")]
    assert kinds(by_network.take(2)) == [("c", "added"), ("c", "removed")]
    assert kinds(by_pool.take(2)) == [("c", "added"), ("c", "removed")]
    assert kinds(by_selector.take(2)) == [("c", "added"), ("c", "removed")]
    # Each stream is behind a sentinel change it must show next: nothing else came before it.
    client.allocate("h2", "z", "eth0", [AddressSpec(pool="pb")], {"network": "blue", "app": "web"})
    for watch in (by_host, by_network, by_pool, by_selector):
        assert kinds(watch.take(1)) == [("z", "added")]


@pytest.mark.usefixtures("pools")
def test_an_endpoint_leaving_and_entering_the_selector_is_removed_and_added(client: IpamClient, engine: Engine) -> None:
    client.register_endpoint("h1", "web", "eth0", labels={"app": "web"})
    client.register_endpoint("h1", "db", "eth0", labels={"app": "db"})
    settled(engine)
    mirror, revision = listed(client, label_selector="app=web")
    assert [e.owner_id for e in mirror.values()] == ["web"]
    watch = Watch(client, revision, label_selector="app=web")
    labels(client, "web", tier="front")  # still matches
    labels(client, "web", app="api")  # leaves
    labels(client, "web", tier="back")  # outside: not shown
    labels(client, "db", app="web")  # enters
    labels(client, "web", app="web")  # enters again
    client.release_owner("web", "eth0")  # no address: stays; a network change leaves it matching
    client.register_endpoint("h1", "web", "eth0", network="pods")
    events = watch.take(5)
    assert kinds(events) == [
        ("web", "updated"),
        ("web", "removed"),
        ("db", "added"),
        ("web", "added"),
        ("web", "updated"),
    ]
    assert dict(events[1].endpoint.labels) == {"app": "api", "tier": "front"}  # the endpoint as it left
    apply(mirror, events)
    assert mirror == listed(client, label_selector="app=web")[0]


@pytest.mark.usefixtures("pools")
def test_a_watch_from_an_older_revision_starts_from_what_matched_then(client: IpamClient, engine: Engine) -> None:
    """The changes between the list and the watch's start are translated against the list's state,
    not against the state when the watch starts."""
    client.allocate("h1", "stays", "eth0", [AddressSpec(pool="pa")], {"app": "web"})
    client.allocate("h1", "leaves", "eth0", [AddressSpec(pool="pa")], {"app": "web"})
    client.allocate("h1", "enters", "eth0", [AddressSpec(pool="pa")], {"app": "db"})
    client.allocate("h1", "round-trip", "eth0", [AddressSpec(pool="pa")], {"app": "web"})
    client.allocate("h1", "never", "eth0", [AddressSpec(pool="pa")], {"app": "db"})
    settled(engine)
    mirror, revision = listed(client, label_selector="app=web")
    labels(client, "stays", tier="x")
    labels(client, "leaves", app="db")
    labels(client, "enters", app="web")
    labels(client, "round-trip", app="db")
    labels(client, "round-trip", app="web")
    labels(client, "never", tier="x")
    client.allocate("h1", "new", "eth0", [AddressSpec(pool="pa")], {"app": "web"})
    client.release_owner("stays", "eth0")
    settled(engine)
    # Opened only now: every change above already happened.
    events = Watch(client, revision, label_selector="app=web").take(7)
    assert kinds(events) == [
        ("stays", "updated"),
        ("leaves", "removed"),
        ("enters", "added"),
        ("round-trip", "removed"),
        ("round-trip", "added"),
        ("new", "added"),
        ("stays", "removed"),
    ]
    apply(mirror, events)
    assert mirror == listed(client, label_selector="app=web")[0]


@pytest.mark.usefixtures("pools")
def test_a_list_shows_the_endpoints_as_of_its_revision_so_the_watch_repeats_nothing(
    client: IpamClient, engine: Engine
) -> None:
    """Changes committed but not numbered yet (the sequencer is held here) come after the list's
    revision: the list shows the endpoints without them, and the watch delivers each once."""
    client.register_endpoint("h1", "leaves", "eth0", labels={"app": "web"})
    client.register_endpoint("h1", "stays", "eth0", labels={"app": "web"})
    settled(engine)
    web = EndpointFilters(label_selector="app=web")
    with engine.connect() as held:
        held.exec_driver_sql("SELECT 1 FROM event_sequencer WHERE id = 1 FOR UPDATE")
        client.register_endpoint("h1", "new", "eth0", labels={"app": "web"})
        labels(client, "leaves", app="db")
        labels(client, "stays", tier="x")
        page, revision, pending = registry.list_at_head(engine, web, 1000, "")
        assert pending
        assert sorted((e.owner_id, e.labels) for e in page.items) == [
            ("leaves", {"app": "web"}),
            ("stays", {"app": "web"}),
        ]
        for state in ("active", "", "deleted"):  # with a filter of the state only, and paged
            first, _, _ = registry.list_at_head(engine, EndpointFilters(state=state), 1, "")
            assert [e.owner_id for e in first.items] == ([] if state == "deleted" else ["leaves"])
        unfiltered = Watch(client, revision)
        watch = Watch(client, revision, label_selector="app=web")
        held.rollback()
    events = watch.take(3)
    assert kinds(events) == [("new", "added"), ("leaves", "removed"), ("stays", "updated")]
    assert kinds(unfiltered.take(3)) == [("new", "added"), ("leaves", "updated"), ("stays", "updated")]
    mirror = {e.id: convert.endpoint(e) for e in page.items}
    apply(mirror, events)
    assert mirror == listed(client, label_selector="app=web")[0]


@pytest.mark.usefixtures("pools")
def test_a_list_shows_the_changes_committed_before_it_even_when_not_numbered_yet(
    client: IpamClient, engine: Engine
) -> None:
    client.register_endpoint("h1", "a", "eth0", labels={"app": "web"})
    settled(engine)
    held = engine.connect()
    held.exec_driver_sql("SELECT 1 FROM event_sequencer WHERE id = 1 FOR UPDATE")
    labels(client, "a", app="db")
    # The list numbers the change itself once the hub's sequencer (held here) lets it.
    answer: list[tuple[dict[int, registry_pb.Endpoint], int]] = []
    listing = threading.Thread(target=lambda: answer.append(listed(client, label_selector="app=db")))
    listing.start()
    waiting = (  # the hub's sequencer and the list's, both held
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND starts_with(query, 'SELECT last_revision FROM event_sequencer')"
    )
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while int(tx.run(engine, lambda conn: conn.exec_driver_sql(waiting).scalar()) or 0) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    held.rollback()
    held.close()
    listing.join()
    found, revision = answer[0]
    assert [e.owner_id for e in found.values()] == ["a"]
    assert revision == tx.run(engine, event_store.bounds)[1]


@pytest.mark.usefixtures("pools")
def test_an_endpoint_gaining_and_losing_an_address_of_the_pool_enters_and_leaves_the_filter(
    client: IpamClient, engine: Engine
) -> None:
    client.allocate("h1", "c", "eth0", [AddressSpec(pool="pa")])
    settled(engine)
    mirror, revision = listed(client, pool="pb")
    watch = Watch(client, revision, pool="pb")
    for _ in range(2):
        lease = client.allocate("h1", "c", "eth0", [AddressSpec(pool="pb")]).leases
        client.release_address(next(x.address for x in lease if x.pool == "pb"))
    client.release_owner("c", "eth0")  # holds no pb address any more: not shown
    client.allocate("h2", "sentinel", "eth0", [AddressSpec(pool="pb")])
    events = watch.take(5)
    assert kinds(events) == [("c", "added"), ("c", "removed"), ("c", "added"), ("c", "removed"), ("sentinel", "added")]
    assert sorted(a.pool for a in events[0].endpoint.addresses) == ["pa", "pb"]
    assert [a.pool for a in events[1].endpoint.addresses] == ["pa"]
    apply(mirror, events)
    assert mirror == listed(client, pool="pb")[0]


@pytest.mark.usefixtures("pools")
def test_list_then_watch_under_concurrent_writers_misses_nothing_and_shows_nothing_else(
    client: IpamClient, engine: Engine
) -> None:
    """Writers change labels (in and out of the selector), allocate and release while readers list
    and watch: each reader's list plus its events equals the final list."""
    selector = "app=web,!off"
    owners = [f"o{i}" for i in range(12)]
    outsiders = ["x0", "x1"]  # never match: never shown
    for owner in outsiders:
        client.register_endpoint("h2", owner, "eth0", labels={"app": "db"})
    stop = threading.Event()
    errors: list[BaseException] = []

    def change(rng: random.Random) -> None:
        index = rng.randrange(len(owners))
        owner, action = owners[index], rng.random()
        if action < 0.3:  # also merges the label "app" from the lease attributes
            pool = AddressSpec(pool=rng.choice(["pa", "pb"]))
            client.allocate(f"h{1 + index % 2}", owner, "eth0", [pool], {"app": rng.choice(["web", "db"])})
        elif action < 0.45:
            client.release_owner(owner, "eth0")
        elif action < 0.9:
            values = {"app": rng.choice(["web", "db"]), "n": str(rng.randrange(1000))}
            client.update_endpoint_labels(owner, "eth0", values, remove=["off"] if rng.random() < 0.5 else ())
        else:
            labels(client, owner, off="1")
        if rng.random() < 0.2:
            labels(client, rng.choice(outsiders), n=str(rng.randrange(1000)))

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while not stop.is_set():
                with contextlib.suppress(NotFound):  # labels of an endpoint released meanwhile
                    change(rng)
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(seed,)) for seed in range(2)]
    for writer in writers:
        writer.start()
    readers: list[tuple[dict[int, registry_pb.Endpoint], Watch]] = []
    try:
        for _ in range(4):
            mirror, revision = listed(client, label_selector=selector)
            readers.append((mirror, Watch(client, revision, label_selector=selector)))
            for _ in range(30):  # let the writers run a while between readers
                labels(client, outsiders[0], n="r")
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert not errors, errors
    # A last change every stream must show, once the writers are done: after it, nothing more.
    client.register_endpoint("h1", "sentinel", "eth0", labels={"app": "web"})
    wanted = parse_selector("label_selector", selector)
    outsider_ids = {client.get_endpoint(o, "eth0").id for o in outsiders}
    final: dict[int, registry_pb.Endpoint] = {}
    for mirror, watch in readers:
        events: list[registry_pb.EndpointEvent] = []
        while not events or events[-1].endpoint.owner_id != "sentinel":
            events.extend(watch.take(1))
        if not final:  # the list once the sentinel is numbered: then nothing changes any more
            _wait_numbered(engine, events[-1].revision)
            final = listed(client, label_selector=selector)[0]
        for event in events:
            assert event.endpoint.id not in outsider_ids
            matches = event.endpoint.state == ACTIVE and wanted.matches(dict(event.endpoint.labels))
            assert matches == (event.type != REMOVED), event
        apply(mirror, events)
        assert mirror.keys() == final.keys()
        assert {i: (dict(e.labels), list(e.addresses)) for i, e in mirror.items()} == {
            i: (dict(e.labels), list(e.addresses)) for i, e in final.items()
        }
    assert final


@pytest.mark.usefixtures("pools")
def test_a_bad_selector_is_refused_as_by_list_and_an_unknown_pool_or_host_is_not_found(client: IpamClient) -> None:
    revision = head_revision(client)
    for watch_filters in [{"label_selector": "a b=c"}, {"pool": "nope"}, {"host": "nope"}]:
        error = InvalidArgument if "label_selector" in watch_filters else NotFound
        with pytest.raises(error) as by_list:
            listed(client, **watch_filters)
        with fails(error, str(by_list.value.message)):
            next(iter(client.watch_endpoints(revision, **watch_filters)))


@pytest.mark.usefixtures("pools")
def test_a_filtered_watch_from_a_pruned_revision_is_out_of_range(client: IpamClient, engine: Engine) -> None:
    client.register_endpoint("h1", "a", "eth0", labels={"app": "web"})
    labels(client, "a", n="1")
    head = _wait_numbered(engine, head_revision(client))
    tx.run(engine, lambda conn: conn.exec_driver_sql(f"UPDATE event_sequencer SET pruned_through = {head}"))
    with fails(OutOfRange, "were pruned"):
        next(iter(client.watch_endpoints(head - 1, label_selector="app=web")))


@pytest.mark.usefixtures("pools")
def test_an_endpoint_last_changed_before_the_kept_log_is_taken_as_matching(client: IpamClient, engine: Engine) -> None:
    """Its state at the start revision cannot be told: its next change comes as REMOVED when it
    does not match (what a client that listed it needs), even if it did not match then."""
    client.register_endpoint("h1", "web", "eth0", labels={"app": "web"})
    client.register_endpoint("h1", "db", "eth0", labels={"app": "db"})
    settled(engine)
    tx.run(engine, lambda conn: event_store.prune(conn, datetime.now(UTC) + timedelta(days=1)))
    shown, revision = listed(client, label_selector="app=web")
    assert [e.owner_id for e in shown.values()] == ["web"]
    assert tx.run(engine, event_store.bounds) == (revision, revision)  # nothing kept before it
    opened_before = Watch(client, revision, label_selector="app=web")
    client.register_endpoint("h1", "first", "eth0", labels={"app": "web"})
    assert kinds(opened_before.take(1)) == [("first", "added")]  # the stream is open: it knew "db" then
    labels(client, "db", n="1")
    labels(client, "web", app="api")
    settled(engine)
    opened_after = Watch(client, revision, label_selector="app=web")
    client.register_endpoint("h1", "sentinel", "eth0", labels={"app": "web"})
    assert kinds(opened_before.take(2)) == [("web", "removed"), ("sentinel", "added")]
    assert kinds(opened_after.take(4)) == [
        ("first", "added"),
        ("db", "removed"),
        ("web", "removed"),
        ("sentinel", "added"),
    ]


@pytest.mark.usefixtures("pools")
def test_cli_watch_takes_the_filters_of_list(client: IpamClient, ipam_cli: Cli) -> None:
    start = head_revision(client)
    client.register_endpoint("h1", "a", "eth0", labels={"app": "web"})
    client.register_endpoint("h2", "b", "eth0", labels={"app": "web"})
    labels(client, "a", app="db")
    labels(client, "b", app="db")
    common = ["endpoint", "watch", "--since", str(start), "--limit", "2", "-o", "json"]
    for flags, owner in [(["--host", "h2"], "b"), (["--selector", "app=web", "--host", "h1"], "a")]:
        lines = [json.loads(line) for line in ok(ipam_cli(*common, *flags)).splitlines()]
        assert [(e["endpoint"]["owner_id"], e["type"]) for e in lines] == [
            (owner, "ENDPOINT_EVENT_TYPE_ADDED"),
            (owner, "ENDPOINT_EVENT_TYPE_UPDATED" if flags[0] == "--host" else "ENDPOINT_EVENT_TYPE_REMOVED"),
        ]
    assert "label_selector" in one_error_line(ipam_cli("endpoint", "watch", "--selector", "a b=c"), 1)
    assert "nope" in one_error_line(ipam_cli("endpoint", "watch", "--pool", "nope"), 1)


def _wait_numbered(engine: Engine, at_least: int) -> int:
    """The head revision once it is at least `at_least` (every change above is numbered)."""
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while (head := tx.run(engine, event_store.bounds)[1]) < at_least:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return head


def settled(engine: Engine) -> None:
    """Wait until every committed change is numbered: a list then shows all of them (a list shows
    the endpoints as of its revision, before any change numbered later)."""
    deadline = time.monotonic() + EVENT_WAIT_SECONDS
    while tx.run(engine, lambda conn: conn.exec_driver_sql(PENDING).scalar()):
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_filtered_watch_resumes_on_the_next_replica_with_its_filters(
    server_process_factory: ServerProcessFactory,
) -> None:
    """Replica A is killed mid-stream: the stream resumes on B from the last revision received,
    still filtered, and shows each selected endpoint's addition and removal once, in order."""
    a = server_process_factory()
    b = server_process_factory()
    with IpamClient(b.address) as writer, IpamClient(f"ipv4:{a.address},{b.address}") as watcher:
        writer.create_pool("f4", "10.91.0.0/16", 24)
        writer.register_host("h0")
        watch = Watch(watcher, head_revision(writer), label_selector="app=web")  # on A first
        stop = threading.Event()

        def churn() -> None:
            n = 0
            while not stop.is_set():
                app = "web" if n % 2 == 0 else "db"
                writer.allocate("h0", f"c{n}", "eth0", [AddressSpec(pool="f4")], {"app": app})
                writer.release_owner(f"c{n}", "eth0")
                n += 1

        thread = threading.Thread(target=churn, daemon=True)
        thread.start()
        try:
            before = watch.take(20)
            a.kill()  # SIGKILL, while changes keep coming through B
            after = watch.take(40)
        finally:
            stop.set()
            thread.join()
    events = before + after
    owners = [f"c{2 * (i // 2)}" for i in range(len(events))]
    assert kinds(events) == [(owner, ("added", "removed")[i % 2]) for i, owner in enumerate(owners)]
