"""Docker reconciliation (DockerNetworkService.ReconcileNetworks) against the real server and
PostgreSQL: what the host's dockerd no longer uses is released and recorded, nothing else.

Time passing is simulated as in test_gc.py: timestamps are moved back in the database.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import pytest
from api_checks import age_docker, fails
from sqlalchemy import Engine, text

from ipam_client import InvalidArgument, IpamClient, NotFound, pb

CONTAINER, GATEWAY, AUX = (
    pb.NETWORK_ADDRESS_ROLE_CONTAINER,
    pb.NETWORK_ADDRESS_ROLE_GATEWAY,
    pb.NETWORK_ADDRESS_ROLE_AUX,
)
MAC = "02:42:ac:11:00:02"
OLD = 600  # seconds: older than the default minimum age of 60 s


def network(client: IpamClient, host: str, subnet: str) -> str:
    """Join (or register) the network of `subnet` for `host`; its pool id."""
    return client.request_network_pool(host, subnet=subnet, v6=":" in subnet).pool_id


def container(client: IpamClient, host: str, pool_id: str, address: str = "") -> str:
    return client.request_network_address(host, pool_id, address, role=CONTAINER, mac_address=MAC).address_cidr


def active(client: IpamClient) -> dict[str, tuple[str, str]]:
    """Active Docker leases: address -> (host, role)."""
    return {
        lease.address: (lease.host, lease.attributes["docker.role"])
        for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)
        if "docker.role" in lease.attributes
    }


def members(engine: Engine) -> set[tuple[str, str]]:
    """(network subnet, host) of every membership."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT CAST(d.cidr AS text), h.name FROM docker_network_host m "
                "JOIN host_subnet d ON d.id = m.subnet_id JOIN host h ON h.id = m.host_id"
            )
        )
        return {(row[0], row[1]) for row in rows}


def history(client: IpamClient) -> list[tuple[str, str, str, str]]:
    """(kind, host, target, detail) of the GC history's runtime_gone records, oldest first."""
    records = client.iter_gc_records(reason=pb.GC_REASON_RUNTIME_GONE)
    return [(r.item.kind, r.item.host, r.item.target, r.detail) for r in reversed(list(records))]


def released(reply: pb.ReconcileNetworksResponse) -> list[tuple[str, str, str]]:
    assert {item.reason for item in reply.released} <= {pb.GC_REASON_RUNTIME_GONE}
    return [(item.kind, item.host, item.target) for item in reply.released]


@pytest.fixture
def hosts(client: IpamClient) -> None:
    client.create_pool("dv4", "10.20.0.0/16", 24)
    client.create_pool("dv6", "fd20::/48", 64)
    for host in ("node-a", "node-b"):
        client.register_host(host)


ADDRESS_GONE = "docker reconciliation: address no longer used by dockerd"
NETWORK_GONE = "docker reconciliation: network gone from dockerd"


def test_unlisted_container_addresses_are_released_and_recorded(
    client: IpamClient, engine: Engine, hosts: None, ipam_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    pool = network(client, "node-a", "10.20.1.0/24")
    network(client, "node-b", "10.20.1.0/24")
    client.request_network_address("node-a", pool, "10.20.1.1", role=GATEWAY)
    client.request_network_address("node-a", pool, "10.20.1.5", role=AUX)
    listed, leaked, stopped = (container(client, "node-a", pool, f"10.20.1.{n}") for n in (10, 11, 12))
    theirs = container(client, "node-b", pool, "10.20.1.13")
    age_docker(engine, OLD)
    young = container(client, "node-a", pool, "10.20.1.14")

    reply = client.reconcile_networks("node-a", [(["10.20.1.0/24"], [listed])])  # with its /24, as dockerd gives it
    assert released(reply) == [("lease", "node-a", "10.20.1.11"), ("lease", "node-a", "10.20.1.12")]
    assert active(client) == {
        "10.20.1.1": ("node-a", "gateway"),
        "10.20.1.5": ("node-a", "aux"),
        "10.20.1.10": ("node-a", "container"),
        "10.20.1.13": ("node-b", "container"),  # another host's container: not node-a's dockerd's to say
        "10.20.1.14": ("node-a", "container"),  # younger than the minimum age
    }
    assert (leaked, stopped, theirs, young) == ("10.20.1.11/24", "10.20.1.12/24", "10.20.1.13/24", "10.20.1.14/24")
    assert history(client) == [
        ("lease", "node-a", "10.20.1.11", ADDRESS_GONE),
        ("lease", "node-a", "10.20.1.12", ADDRESS_GONE),
    ]
    shown = ipam_cli("gc", "history", "--reason", "runtime_gone")
    assert shown.returncode == 0, shown.stderr
    assert "10.20.1.11" in shown.stdout and ADDRESS_GONE in shown.stdout
    # The endpoint registry saw the container go.
    with fails(NotFound, "no endpoint held 10.20.1.11 now", "the last before was docker:10.20.1.0/24#10.20.1.11"):
        client.lookup_address("10.20.1.11")

    assert client.reconcile_networks("node-a", [(["10.20.1.0/24"], [listed])]).released == []  # nothing left to do
    # A smaller minimum age reaches the younger one.
    age_docker(engine, 30)
    reply = client.reconcile_networks("node-a", [(["10.20.1.0/24"], ["10.20.1.10"])], min_age_seconds=20)
    assert released(reply) == [("lease", "node-a", "10.20.1.14")]
    assert members(engine) == {("10.20.1.0/24", "node-a"), ("10.20.1.0/24", "node-b")}


def test_dual_stack_addresses_are_matched_per_family(client: IpamClient, engine: Engine, hosts: None) -> None:
    v4 = network(client, "node-a", "10.20.2.0/24")
    v6 = network(client, "node-a", "fd20:0:0:2::/64")
    container(client, "node-a", v4, "10.20.2.10")
    container(client, "node-a", v6, "fd20:0:0:2::10")
    container(client, "node-a", v6, "fd20:0:0:2::11")
    age_docker(engine, OLD)
    reply = client.reconcile_networks(
        "node-a", [(["10.20.2.0/24", "fd20:0:0:2::/64"], ["10.20.2.10/24", "fd20:0:0:2:0:0:0:10/64"])]
    )
    assert released(reply) == [("lease", "node-a", "fd20:0:0:2::11")]
    assert sorted(active(client)) == ["10.20.2.10", "fd20:0:0:2::10"]


def test_networks_gone_from_dockerd_are_left(client: IpamClient, engine: Engine, hosts: None) -> None:
    shared = network(client, "node-a", "10.20.3.0/24")
    network(client, "node-b", "10.20.3.0/24")
    client.request_network_address("node-a", shared, "10.20.3.1", role=GATEWAY)
    container(client, "node-a", shared, "10.20.3.10")
    container(client, "node-b", shared, "10.20.3.11")
    alone = network(client, "node-a", "10.20.4.0/24")
    client.request_network_address("node-a", alone, "10.20.4.1", role=GATEWAY)
    container(client, "node-a", alone, "10.20.4.10")
    busy = network(client, "node-a", "10.20.5.0/24")
    kept = network(client, "node-a", "10.20.6.0/24")
    client.create_address_space("other")
    client.create_pool("other4", "10.20.0.0/16", 24, space="other")
    client.request_network_pool("node-a", space="other", subnet="10.20.7.0/24")
    age_docker(engine, OLD)
    container(client, "node-a", busy, "10.20.5.10")  # a young container: dockerd is using that network
    assert client.request_network_pool("node-a", subnet="10.20.6.0/24", replay=True).pool_id == kept  # joined anew
    network(client, "node-a", "10.20.8.0/24")  # created while the agent was listing

    reply = client.reconcile_networks("node-a", [(["10.20.9.0/24"], [])])  # not the server's: ignored
    assert sorted(released(reply)) == [
        ("lease", "node-a", "10.20.3.10"),
        ("lease", "node-a", "10.20.4.10"),
        ("subnet", "node-a", "10.20.3.0/24"),
        ("subnet", "node-a", "10.20.4.0/24"),
    ]
    # The shared network stays for node-b with its gateway; the one only node-a used is gone.
    assert active(client) == {
        "10.20.3.1": ("node-a", "gateway"),
        "10.20.3.11": ("node-b", "container"),
        "10.20.5.10": ("node-a", "container"),
    }
    with pytest.raises(NotFound):
        client.get_lease("10.20.4.1")
    assert members(engine) == {
        ("10.20.3.0/24", "node-b"),
        ("10.20.5.0/24", "node-a"),
        ("10.20.6.0/24", "node-a"),
        ("10.20.7.0/24", "node-a"),  # another address space
        ("10.20.8.0/24", "node-a"),
    }
    records = history(client)
    assert ("subnet", "node-a", "10.20.3.0/24", f"{NETWORK_GONE}; other hosts still use it") in records
    assert ("subnet", "node-a", "10.20.4.0/24", f"{NETWORK_GONE}; deleted, no other host uses it") in records
    assert ("lease", "node-a", "10.20.4.10", NETWORK_GONE) in records
    assert len(records) == 4
    # The released subnet is free for a new network.
    assert network(client, "node-b", "10.20.4.0/24")


@pytest.mark.parametrize(
    ("host", "networks", "min_age", "message"),
    [
        ("bad host!", [], 0, "host: 'bad host!' is not a valid name"),
        ("node-a", [([], [])], 0, "networks[0].subnets: must not be empty"),
        (
            "node-a",
            [(["10.20.1.0/24"], []), (["10.20.1.0"], [])],
            0,
            "networks[1].subnets[0]: '10.20.1.0' is not a CIDR",
        ),
        ("node-a", [(["10.20.1.1/24"], [])], 0, "networks[0].subnets[0]: '10.20.1.1/24' has host bits set"),
        ("node-a", [(["10.20.1.0/24"], ["10.20.1.x"])], 0, "networks[0].addresses[0]: '10.20.1.x' is not a valid IP"),
        (
            "node-a",
            [(["10.20.1.0/24"], ["10.20.1.7/40"])],
            0,
            "networks[0].addresses[0]: '10.20.1.7/40' has an invalid",
        ),
        (
            "node-a",
            [(["10.20.1.0/24"], ["10.20.1.7", "10.20.2.7/24"])],
            0,
            "networks[0].addresses[1]: 10.20.2.7 is outside the network's subnets (10.20.1.0/24)",
        ),
        ("node-a", [(["10.20.1.0/24"], [""])], 0, "networks[0].addresses[0]: must not be empty"),
        ("node-a", [], -1, "min_age_seconds: -1 is out of range (0..86400)"),
        ("node-a", [], 86401, "min_age_seconds: 86401 is out of range (0..86400)"),
    ],
)
def test_bad_input_is_invalid_and_changes_nothing(
    client: IpamClient,
    engine: Engine,
    hosts: None,
    host: str,
    networks: list[tuple[list[str], list[str]]],
    min_age: int,
    message: str,
) -> None:
    pool = network(client, "node-a", "10.20.1.0/24")
    network(client, "node-a", "10.20.2.0/24")
    container(client, "node-a", pool, "10.20.1.10")
    age_docker(engine, OLD)
    before = active(client), members(engine)
    with fails(InvalidArgument, message):
        client.reconcile_networks(host, networks, min_age_seconds=min_age)
    assert (active(client), members(engine)) == before
    assert history(client) == []


def test_unknown_host_or_space_is_not_found(client: IpamClient, hosts: None) -> None:
    with fails(NotFound, 'host "node-z" is not registered'):
        client.reconcile_networks("node-z", [])
    with fails(NotFound, 'address space "nowhere" does not exist'):
        client.reconcile_networks("node-a", [], space="nowhere")


def test_eight_thousand_subnets_and_addresses_are_checked_correctly(
    client: IpamClient, engine: Engine, hosts: None
) -> None:
    """Issue 16 finding 9: one network of 8,000 subnets and 8,000 addresses (quadratic before:
    27-37 s). Every address is checked against its network's subnets, and the answer is right."""
    pool = network(client, "node-a", "10.20.1.0/24")
    kept, leaked = container(client, "node-a", pool, "10.20.1.10"), container(client, "node-a", pool, "10.20.1.11")
    age_docker(engine, OLD)
    # 7,999 more /24s (10.96.0.0/24 .. 10.127.62.0/24), listed in reverse and one address in each.
    others = [f"10.{96 + i // 256}.{i % 256}.0/24" for i in range(7999)][::-1]
    subnets = ["10.20.1.0/24", *others]
    addresses = [kept, *(s.replace(".0/24", ".7") for s in others)]
    assert (len(subnets), len(addresses)) == (8000, 8000)
    start = time.perf_counter()
    reply = client.reconcile_networks("node-a", [(subnets, addresses)])
    print(f"ReconcileNetworks with 8,000 subnets x 8,000 addresses: {time.perf_counter() - start:.2f} s")
    assert released(reply) == [("lease", "node-a", leaked.split("/")[0])]
    assert sorted(active(client)) == [kept.split("/")[0]]
    # The last address outside every subnet is still found, and named.
    with fails(InvalidArgument, "networks[0].addresses[8000]: 10.128.0.7 is outside the network's subnets"):
        client.reconcile_networks("node-a", [(subnets, [*addresses, "10.128.0.7"])])


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ([(["10.20.1.0/24"], [])] * 10_001, "networks: 10001 networks in one request; at most 10000 are allowed"),
        ([(["10.20.1.0/24"] * 10_001, [])], "networks: 10001 subnets in one request; at most 10000 are allowed"),
        (
            [(["10.20.1.0/24"], ["10.20.1.7"] * 100_001)],
            "networks: 100001 addresses in one request; at most 100000 are allowed",
        ),
    ],
)
def test_oversized_requests_are_refused(
    client: IpamClient, hosts: None, networks: list[tuple[list[str], list[str]]], message: str
) -> None:
    with fails(InvalidArgument, message):
        client.reconcile_networks("node-a", networks)
