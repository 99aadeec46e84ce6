"""The endpoint registry over real gRPC against the real database: endpoints follow leases,
history answers "who held this address then", label selectors, the watch stream, bad input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from api_checks import fails
from registry_checks import Watch, assert_consecutive, head_revision, kinds
from sqlalchemy import Engine

from ipam.store import events as event_store
from ipam.store import tx
from ipam_client import (
    AddressSpec,
    AlreadyExists,
    InvalidArgument,
    IpamClient,
    NotFound,
    OutOfRange,
    registry_pb,
)

K8S = {"K8S_POD_NAMESPACE": "shop", "K8S_POD_NAME": "web-1", "cni.network": "pods"}


@pytest.fixture
def pools(client: IpamClient) -> None:
    client.create_pool("p4", "10.0.0.0/24", 26)
    client.create_pool("p6", "fd00::/48", 64)
    # One usable address per host subnet, no cooldown: each release hands the same address to the next owner.
    client.create_pool("tiny", "10.9.0.0/24", 30, cooldown_seconds=0)
    client.register_host("h1")
    client.register_host("h2")


def dual_stack(client: IpamClient, owner: str, attributes: dict[str, str] | None = None, host: str = "h1") -> None:
    client.allocate(host, owner, "eth0", [AddressSpec(pool="p4"), AddressSpec(pool="p6")], attributes)


@pytest.mark.usefixtures("pools")
def test_an_allocation_makes_an_endpoint_with_both_addresses_and_kubernetes_labels(client: IpamClient) -> None:
    dual_stack(client, "c1", K8S)
    endpoint = client.get_endpoint("c1", "eth0")
    assert endpoint.host == "h1"
    assert endpoint.network == "pods"
    assert dict(endpoint.labels) == {"io.kubernetes.pod.namespace": "shop", "io.kubernetes.pod.name": "web-1"}
    assert [(a.address, a.pool) for a in endpoint.addresses] == [("10.0.0.2", "p4"), ("fd00::2", "p6")]
    assert endpoint.state == registry_pb.ENDPOINT_STATE_ACTIVE
    assert client.get_endpoint(id=endpoint.id) == endpoint


@pytest.mark.usefixtures("pools")
def test_release_of_the_last_address_deletes_the_endpoint_and_the_watch_says_so(client: IpamClient) -> None:
    start = head_revision(client)
    watch = Watch(client, start)
    dual_stack(client, "c1", K8S)
    client.release_address("10.0.0.2")
    client.release_owner("c1", "eth0")
    events = watch.take(4)
    assert_consecutive(events, start)
    # Dual-stack is two statements in one transaction: added with the first address, updated with the second.
    assert kinds(events) == [("c1", "added"), ("c1", "updated"), ("c1", "updated"), ("c1", "removed")]
    assert [len(e.endpoint.addresses) for e in events] == [1, 2, 1, 1]
    removed = events[-1].endpoint
    assert removed.state == registry_pb.ENDPOINT_STATE_DELETED
    assert removed.HasField("delete_time")
    with fails(NotFound, "no live endpoint c1/eth0"):
        client.get_endpoint("c1", "eth0")
    assert client.get_endpoint(id=removed.id).state == registry_pb.ENDPOINT_STATE_DELETED


@pytest.mark.usefixtures("pools")
def test_whois_at_answers_for_an_address_reused_by_three_owners_in_a_row(client: IpamClient) -> None:
    holdings = []
    for owner in ("first", "second", "third"):
        lease = client.allocate("h1", owner, "eth0", [AddressSpec(pool="tiny")]).leases[0]
        assert lease.address == "10.9.0.2"  # the same slot each time
        holdings.append(client.lookup_address("10.9.0.2"))
        if owner != "third":
            client.release_owner(owner, "eth0")
    # Ask again once all three are over or running: each time falls in one holding.
    for owner, now in zip(("first", "second", "third"), holdings, strict=True):
        held_from = now.held_from.ToDatetime(tzinfo=UTC)
        answer = client.lookup_address("10.9.0.2", at=held_from)
        assert answer.endpoint.owner_id == owner
        assert answer.held_from == now.held_from
    ended = [client.lookup_address("10.9.0.2", at=h.held_from.ToDatetime(tzinfo=UTC)) for h in holdings[:2]]
    assert all(e.HasField("held_until") for e in ended)
    assert not client.lookup_address("10.9.0.2").HasField("held_until")
    assert client.lookup_address("10.9.0.2").endpoint.owner_id == "third"
    # Between the release of "first" and the allocation of "second" nobody held it.
    gap = ended[0].held_until.ToDatetime(tzinfo=UTC)
    assert gap < holdings[1].held_from.ToDatetime(tzinfo=UTC)
    with fails(NotFound, "no endpoint held 10.9.0.2 at", "the last before was first/eth0"):
        client.lookup_address("10.9.0.2", at=gap)
    with fails(NotFound, "no endpoint held 10.9.0.2 at"):
        client.lookup_address("10.9.0.2", at=holdings[0].held_from.ToDatetime(tzinfo=UTC) - timedelta(seconds=1))


@pytest.mark.usefixtures("pools")
def test_label_selectors_filter_endpoints(client: IpamClient) -> None:
    client.register_endpoint("h1", "web", "eth0", labels={"app": "web", "tier": "front"})
    client.register_endpoint("h1", "db", "eth0", labels={"app": "web", "tier": "db", "gpu": "yes"})
    client.register_endpoint("h2", "batch", "eth0", labels={"app": "batch"})

    def owners(selector: str, host: str = "") -> list[str]:
        return [e.owner_id for e in client.iter_endpoints(host=host, label_selector=selector)]

    assert owners("app=web") == ["web", "db"]
    assert owners("app=web,tier!=db") == ["web"]
    assert owners("tier!=db") == ["web", "batch"]  # no tier label: not "db"
    assert owners("gpu") == ["db"]
    assert owners("!gpu") == ["web", "batch"]
    assert owners("app==batch") == ["batch"]
    assert owners("app=web", host="h2") == []
    assert owners("") == ["web", "db", "batch"]
    client.update_endpoint_labels("batch", "eth0", {"app": "web"})
    assert owners("app=web") == ["web", "db", "batch"]
    client.update_endpoint_labels("db", "eth0", remove=["gpu"])
    assert owners("gpu") == []
    client.update_endpoint_labels("web", "eth0", {"only": "this"}, replace=True)
    assert dict(client.get_endpoint("web", "eth0").labels) == {"only": "this"}


def labels_of(i: int) -> dict[str, str]:
    labels = {"app": "web" if i % 2 else "db", "zone": f"z{i % 5}", "n": str(i)}
    return labels | {"gpu": "yes"} if i % 7 == 0 else labels


@pytest.fixture
def many_endpoints(client: IpamClient, pools: None) -> list[str]:
    """201 endpoints (as in issue 16), owner "e<i>" with labels_of(i)."""
    for i in range(201):
        client.register_endpoint("h1", f"e{i}", "eth0", labels=labels_of(i))
    return [f"e{i}" for i in range(201)]


def test_selectors_at_the_limits_are_answered_correctly(client: IpamClient, many_endpoints: list[str]) -> None:
    def owners(selector: str) -> list[str]:
        return [e.owner_id for e in client.iter_endpoints(label_selector=selector, page_size=50)]

    # 100 terms, every operator: web, no spot label, gpu, not in zone z3, n not 0..95.
    terms = ["app=web", "!spot", "gpu", "zone!=z3", *(f"n!={j}" for j in range(96))]
    assert len(terms) == 100
    wanted = [
        f"e{i}" for i in range(201) if i % 2 and i % 7 == 0 and i % 5 != 3 and i >= 96 and "spot" not in labels_of(i)
    ]
    assert wanted and owners(",".join(terms)) == wanted
    # 8,192 characters: web, and without a long label key nobody has.
    longest = "app=web,!" + "k" * (8192 - 9)
    assert len(longest) == 8192
    assert owners(longest) == [f"e{i}" for i in range(201) if i % 2]
    # The same key with two values matches nothing; with the same value twice, as once.
    assert owners("app=web,app=db") == []
    assert owners("app=web,app=web,zone=z1") == [f"e{i}" for i in range(201) if i % 2 and i % 5 == 1]


def test_oversized_selectors_are_refused_quickly(client: IpamClient, many_endpoints: list[str]) -> None:
    """Issue 16 finding 8: 60,000 terms took 29 s on 201 endpoints."""
    huge = ",".join(f"k{i}=v{i}" for i in range(60_000))
    start = time.perf_counter()
    with fails(InvalidArgument, f"label_selector: {len(huge)} characters, more than the limit of 8192"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(label_selector=huge))
    print(f"ListEndpoints with a selector of 60,000 terms refused in {time.perf_counter() - start:.3f} s")
    with fails(InvalidArgument, "label_selector: 101 terms; a selector has at most 100"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(label_selector=",".join(["a"] * 101)))
    with fails(InvalidArgument, "label_selector: 8193 characters, more than the limit of 8192"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(label_selector="k" * 8193))
    with fails(InvalidArgument, f"host_selector: {len(huge)} characters, more than the limit of 8192"):
        client.create_pool("huge", "10.99.0.0/16", 24, host_selector=huge)


@pytest.mark.usefixtures("pools")
def test_list_filters_by_host_network_pool_and_state_with_pages(client: IpamClient) -> None:
    for i in range(5):
        client.allocate("h1" if i < 3 else "h2", f"c{i}", "eth0", [AddressSpec(pool="p4")], {"cni.network": "pods"})
    dual_stack(client, "v6", host="h2")
    client.release_owner("c0", "eth0")

    def owners(**filters: object) -> list[str]:
        return [e.owner_id for e in client.iter_endpoints(page_size=2, **filters)]  # type: ignore[arg-type]

    assert owners(host="h1") == ["c0", "c1", "c2"]
    assert owners(host="h1", state=registry_pb.ENDPOINT_STATE_ACTIVE) == ["c1", "c2"]
    assert owners(state=registry_pb.ENDPOINT_STATE_DELETED) == ["c0"]
    assert owners(network="pods", state=registry_pb.ENDPOINT_STATE_ACTIVE) == ["c1", "c2", "c3", "c4"]
    assert owners(pool="p6") == ["v6"]
    assert owners(pool="p4", host="h2") == ["c3", "c4", "v6"]


@pytest.mark.usefixtures("pools")
def test_register_endpoint_before_its_addresses_keeps_its_labels_and_mac(client: IpamClient) -> None:
    start = head_revision(client)
    watch = Watch(client, start)
    registered = client.register_endpoint(
        "h1", "c1", "eth0", network="pods", mac="02-42-AC-11-00-02", labels={"a": "1"}
    )
    assert registered.mac == "02:42:ac:11:00:02"
    assert list(registered.addresses) == []
    again = client.register_endpoint("h1", "c1", "eth0", labels={"a": "1"})  # nothing new: no event
    assert again.update_time == registered.update_time
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p4")], {"K8S_POD_NAME": "web"})
    events = watch.take(2)
    assert_consecutive(events, start)
    assert kinds(events) == [("c1", "added"), ("c1", "updated")]
    endpoint = events[1].endpoint
    assert (endpoint.id, endpoint.mac, endpoint.network) == (registered.id, "02:42:ac:11:00:02", "pods")
    assert dict(endpoint.labels) == {"a": "1", "io.kubernetes.pod.name": "web"}
    with fails(AlreadyExists, 'endpoint c1/eth0 is registered on host "h1", not "h2"'):
        client.register_endpoint("h2", "c1", "eth0")


@pytest.mark.usefixtures("pools")
def test_a_pool_deleted_with_force_removes_its_endpoints(client: IpamClient) -> None:
    start = head_revision(client)
    watch = Watch(client, start)
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="tiny")])
    client.delete_pool("tiny", force=True)
    assert kinds(watch.take(2)) == [("c1", "added"), ("c1", "removed")]


@pytest.mark.usefixtures("pools")
def test_watch_resumes_from_a_revision_and_rejects_unknown_ones(client: IpamClient, engine: Engine) -> None:
    start = head_revision(client)
    first = Watch(client, start)
    for owner in ("a", "b", "c"):
        client.allocate("h1", owner, "eth0", [AddressSpec(pool="p4")])
    events = first.take(3)
    resumed = Watch(client, events[0].revision)
    assert [e.revision for e in resumed.take(2)] == [e.revision for e in events[1:]]
    newest = events[-1].revision
    with fails(OutOfRange, f"since_revision: {newest + 5} is ahead of the newest revision, {newest}"):
        Watch(client, newest + 5).take(1)
    with fails(InvalidArgument, "since_revision: -1 must not be negative"):
        Watch(client, -1).take(1)
    # Everything is past its retention when the cutoff is in the future: the log is pruned.
    pruned = tx.run(engine, lambda conn: event_store.prune(conn, datetime.now(UTC) + timedelta(hours=1)))
    assert pruned == 3
    with fails(OutOfRange, f"changes after revision {start} were pruned", "list the endpoints again"):
        Watch(client, start).take(1)
    latest = Watch(client, newest)  # nothing after it was pruned: fine
    client.allocate("h1", "d", "eth0", [AddressSpec(pool="p4")])
    assert kinds(latest.take(1)) == [("d", "added")]


@pytest.mark.usefixtures("pools")
def test_bad_input_gets_a_precise_message(client: IpamClient) -> None:
    with fails(InvalidArgument, "address", "10.0.0.300"):
        client.lookup_address("10.0.0.300")
    future = datetime.now(UTC) + timedelta(days=2)
    with fails(InvalidArgument, "at: ", "is in the future"):
        client.lookup_address("10.0.0.1", at=future)
    with fails(OutOfRange, "is before the kept history", "30 days"):
        client.lookup_address("10.0.0.1", at=datetime.now(UTC) - timedelta(days=31))
    with fails(NotFound, 'address space "nope" does not exist'):
        client.lookup_address("10.0.0.1", "nope")
    with fails(InvalidArgument, "label_selector: bad label key 'a b' in selector term 'a b=c'"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(label_selector="a b=c"))
    with fails(InvalidArgument, "label_selector: empty term in selector 'app=web,,x'"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(label_selector="app=web,,x"))
    with fails(InvalidArgument, "state: 7 is not a known EndpointState value"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(state=7))  # type: ignore[arg-type]
    with fails(InvalidArgument, "page_token: 'xyz' is not a page token returned by a ListEndpoints call"):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(page_token="xyz"))
    with fails(NotFound, 'pool "nope"'):
        client.list_endpoints_page(registry_pb.ListEndpointsRequest(pool="nope"))
    with fails(InvalidArgument, "mac: 'zz' is not a MAC address"):
        client.register_endpoint("h1", "c1", "eth0", mac="zz")
    with fails(NotFound, 'host "h9" is not registered'):
        client.register_endpoint("h9", "c1", "eth0")
    with fails(InvalidArgument, "owner_id: must not be empty"):
        client.register_endpoint("h1", "", "eth0")
    with fails(NotFound, "no live endpoint ghost/eth0"):
        client.update_endpoint_labels("ghost", "eth0", {"a": "b"})
    with fails(InvalidArgument, "remove_labels: not allowed with replace = true"):
        client.update_endpoint_labels("ghost", "eth0", {"a": "b"}, remove=["c"], replace=True)
    with fails(InvalidArgument, "id: give either an id or an owner key"):
        client.get_endpoint("c1", "eth0", id=3)
    with fails(NotFound, "no endpoint with id 99"):
        client.get_endpoint(id=99)
