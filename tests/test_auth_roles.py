"""Authorization: each role's allowed and denied calls, and agent tokens bound to one host."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_checks import allocate, count, fails
from sqlalchemy import Engine

from ipam.server.policy import ROLES_OF
from ipam_client import AddressSpec, IpamClient, PermissionDenied, Unauthenticated, pb, registry_pb

NewToken = Callable[..., str]


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPAM_TOKEN", raising=False)


@pytest.fixture
def admin(auth_server: str, new_token: NewToken) -> Iterator[IpamClient]:
    """An admin client, with pool "p" and hosts h1 and h2 registered."""
    with IpamClient(auth_server, new_token("admin"), retries=0) as ipam:
        ipam.create_pool("p", "10.0.0.0/16", 24)
        ipam.register_host("h1")
        ipam.register_host("h2")
        yield ipam


@pytest.fixture
def as_role(auth_server: str, new_token: NewToken) -> Iterator[Callable[..., IpamClient]]:
    clients: list[IpamClient] = []

    def connect(role: str, host: str = "") -> IpamClient:
        clients.append(IpamClient(auth_server, new_token(role, host), retries=0))
        return clients[-1]

    yield connect
    for client in clients:
        client.close()


def test_every_rpc_of_the_api_has_an_entry_in_the_policy_table() -> None:
    services = [*pb.DESCRIPTOR.services_by_name.values(), *registry_pb.DESCRIPTOR.services_by_name.values()]
    methods = {f"/{service.full_name}/{method.name}" for service in services for method in service.methods}
    assert methods == set(ROLES_OF)


def test_a_reader_may_read_but_not_write(admin: IpamClient, as_role: Callable[..., IpamClient]) -> None:
    allocate(admin, "c1", host="h1")
    reader = as_role("reader")
    assert reader.get_pool("p").name == "p"
    assert [lease.owner_id for lease in reader.list_leases()] == ["c1"]
    assert {h.name for h in reader.list_hosts()} == {"h1", "h2"}
    with fails(PermissionDenied, "reader token", "may not call CreatePool"):
        reader.create_pool("q", "10.1.0.0/16", 24)
    with fails(PermissionDenied, "may not call Allocate"):
        allocate(reader, "c2", host="h1")
    with fails(PermissionDenied, "may not call RegisterHost"):
        reader.register_host("h3")
    with fails(PermissionDenied, "may not call CreateToken"):
        reader.create_token("x", "admin")


def test_an_agent_acts_on_its_own_host_only(
    admin: IpamClient, as_role: Callable[..., IpamClient], engine: Engine
) -> None:
    agent = as_role("agent", "h1")
    assert agent.register_host("h1", {"rack": "r1"}).labels == {"rack": "r1"}
    mine = allocate(agent, "c1", host="h1")
    theirs = allocate(admin, "c2", host="h2")
    with fails(PermissionDenied, 'bound to host "h1"', 'register host "h2"'):
        agent.register_host("h2")
    with fails(PermissionDenied, 'bound to host "h1"', 'allocate for host "h2"'):
        allocate(agent, "c3", host="h2")
    with fails(PermissionDenied, "owner c2/eth0", 'not on host "h1"'):
        agent.release_owner("c2", "eth0")
    with fails(PermissionDenied, f"address {theirs.address}", 'not on host "h1"'):
        agent.release_address(theirs.address)
    with fails(PermissionDenied, 'acquire subnets for host "h2"'):
        agent.acquire_subnet("h2", "p")
    assert count(engine, "SELECT count(*) FROM lease WHERE owner_id = 'c2' AND state = 'active'") == 1
    assert [lease.address for lease in agent.release_owner("c1", "eth0").leases] == [mine.address]
    with fails(PermissionDenied, "agent token", "may not call CreatePool"):
        agent.create_pool("q", "10.1.0.0/16", 24)
    with fails(PermissionDenied, "may not call ReleaseSubnet"):
        agent.release_subnet(mine.subnet)
    assert len(agent.list_leases(host="h1")) == 1  # reads are allowed: the agent's GC lists its leases


def test_an_agent_may_release_what_is_already_released_or_never_was(
    admin: IpamClient, as_role: Callable[..., IpamClient]
) -> None:
    agent = as_role("agent", "h1")
    assert agent.release_owner("nobody", "eth0").already_released
    allocate(agent, "c1", host="h1", spec=AddressSpec(pool="p"))
    agent.release_owner("c1", "eth0")
    assert agent.release_owner("c1", "eth0").already_released


def test_an_admin_may_do_everything(admin: IpamClient) -> None:
    lease = allocate(admin, "c1", host="h2")
    admin.release_address(lease.address)
    made = admin.create_token("r", "reader")
    assert admin.revoke_token("r").id == made.token.id


def test_agent_tokens_and_the_gc_docker_and_registry_calls(
    admin: IpamClient, as_role: Callable[..., IpamClient]
) -> None:
    """Drain, delete and RunGc are for admins; an agent reconciles, uses Docker networks and
    registers endpoints for its own host only."""
    allocate(admin, "c1", host="h1")
    agent = as_role("agent", host="h1")
    with fails(PermissionDenied, "agent token", "may not call RunGc"):
        agent.run_gc()
    with fails(PermissionDenied, "agent token", "may not call DrainHost"):
        agent.drain_host("h1")
    assert agent.reconcile_host("h1", [("c1", "eth0")]).released == []
    with fails(PermissionDenied, 'host "h2"'):
        agent.reconcile_host("h2", [])
    assert agent.reconcile_networks("h1", [(["10.9.0.0/24"], ["10.9.0.2"])]).released == []
    with fails(PermissionDenied, 'bound to host "h1"', 'reconcile the Docker networks of host "h2"'):
        agent.reconcile_networks("h2", [])
    with fails(PermissionDenied, 'host "h2"'):
        agent.register_endpoint("h2", "c9", "eth0")
    with fails(PermissionDenied, 'host "h1"'):
        as_role("agent", host="h2").update_endpoint_labels("c1", "eth0", {"app": "web"})
    assert dict(agent.update_endpoint_labels("c1", "eth0", {"app": "web"}).labels)["app"] == "web"
    reader = as_role("reader")
    assert list(reader.iter_gc_records()) == []
    with fails(PermissionDenied, "reader token", "may not call ReconcileHost"):
        reader.reconcile_host("h1", [])
    with fails(PermissionDenied, "reader token", "may not call ReconcileNetworks"):
        reader.reconcile_networks("h1", [])


def test_a_watch_stream_checks_its_token_too(
    auth_server: str, admin: IpamClient, as_role: Callable[..., IpamClient]
) -> None:
    """WatchEndpoints runs on the event loop, its token checked on a thread before it starts."""
    start = admin.list_endpoints_page(registry_pb.ListEndpointsRequest(page_size=1)).revision
    reader = as_role("reader")
    events = reader.watch_endpoints(start)
    allocate(admin, "c1")
    first = next(events)
    assert (first.revision, first.endpoint.owner_id) == (start + 1, "c1")
    with IpamClient(auth_server, "not-a-token", retries=0) as stranger, pytest.raises(Unauthenticated):
        next(stranger.watch_endpoints(start))
