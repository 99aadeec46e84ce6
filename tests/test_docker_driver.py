"""The agent's Docker IPAM driver over its real unix-socket HTTP server, against the real server:
every CNM method, dockerd's replays, several hosts sharing a network, and bad input (HTTP 500
with {"Err": ...}, never a crash)."""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from docker_plugin import Plugin, serve_plugin
from processes import free_port

from ipam_client import IpamClient, pb

MAC = {"com.docker.network.endpoint.macaddress": "02:42:ac:11:00:02"}
GATEWAY = {"RequestAddressType": "com.docker.network.gateway"}


@pytest.fixture
def sockets() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dkr-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pools(client: IpamClient) -> None:
    client.create_pool("dv4", "10.20.0.0/16", 24)
    client.create_pool("dv6", "fd20::/48", 64)
    client.create_pool("tiny", "10.30.0.0/23", 24)
    for host in ("node-a", "node-b"):
        client.register_host(host)


@pytest.fixture
def node_a(server: str, sockets: Path, pools: None) -> Iterator[Plugin]:
    with serve_plugin(str(sockets / "a.sock"), server, "node-a") as plugin:
        yield plugin


@pytest.fixture
def node_b(server: str, sockets: Path, pools: None) -> Iterator[Plugin]:
    with serve_plugin(str(sockets / "b.sock"), server, "node-b") as plugin:
        yield plugin


def docker_leases(client: IpamClient) -> dict[str, tuple[str, str]]:
    """Active Docker leases: address -> (host, role)."""
    return {
        lease.address: (lease.host, lease.attributes["docker.role"])
        for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)
        if "docker.role" in lease.attributes
    }


# --- the protocol's fixed answers ----------------------------------------------------------------


def test_handshake_methods_take_no_body(node_a: Plugin) -> None:
    assert node_a.ok("Plugin.Activate") == {"Implements": ["IpamDriver"]}
    assert node_a.ok("IpamDriver.GetCapabilities") == {"RequiresMACAddress": True, "RequiresRequestReplay": True}
    assert node_a.ok("IpamDriver.GetDefaultAddressSpaces") == {
        "LocalDefaultAddressSpace": "default",
        "GlobalDefaultAddressSpace": "default",
    }


# --- pools ---------------------------------------------------------------------------------------


def test_request_pool_registers_the_subnet_and_a_replay_returns_the_same_pool(
    node_a: Plugin, client: IpamClient
) -> None:
    first = node_a.request_pool("10.20.5.0/24", "10.20.5.128/25")
    assert first == {"PoolID": "10.20.5.0/24@default", "Pool": "10.20.5.0/24", "Data": {}}
    # dockerd restarted: it activates the driver again, then replays the pool.
    assert node_a.ok("Plugin.Activate") == {"Implements": ["IpamDriver"]}
    assert node_a.request_pool("10.20.5.0/24", "10.20.5.128/25") == first
    assert "overlaps Docker network subnet 10.20.5.0/24" in node_a.err(
        "IpamDriver.RequestPool", {"AddressSpace": "default", "Pool": "10.20.4.0/23", "SubPool": "", "V6": False}
    )
    assert "with ip-range 10.20.5.128/25, not none" in node_a.err(
        "IpamDriver.RequestPool", {"AddressSpace": "default", "Pool": "10.20.5.0/24", "SubPool": "", "V6": False}
    )


def test_a_second_network_of_a_subnet_on_one_host_is_refused_and_keeps_the_first(
    node_a: Plugin, node_b: Plugin, client: IpamClient
) -> None:
    """dockerd refuses a second network of a subnet it has and sends ReleasePool for it: refused
    at RequestPool instead, so that no ReleasePool ends the first network's membership."""
    refused = 'subnet 10.20.5.0/24 is already used by a Docker network on host "node-a"'
    for activated in (False, True):  # since the agent started, and after a dockerd (re)start
        if activated:
            node_a.ok("Plugin.Activate")
        pool_id = node_a.request_pool("10.20.5.0/24")["PoolID"]
        assert refused in node_a.err("IpamDriver.RequestPool", {"AddressSpace": "default", "Pool": "10.20.5.0/24"})
        # Another host's dockerd joins the network as before.
        assert node_b.request_pool("10.20.5.0/24")["PoolID"] == pool_id
        assert node_a.request_address(pool_id, "", MAC) == "10.20.5.1/24"
        node_a.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": "10.20.5.1"})
        for plugin in (node_a, node_b):
            plugin.ok("IpamDriver.ReleasePool", {"PoolID": pool_id})
    # Released: the subnet may be created again on the host.
    assert node_a.request_pool("10.20.5.0/24")["PoolID"] == "10.20.5.0/24@default"


def test_carved_subnets_are_fresh_and_avoid_host_subnets(node_a: Plugin, client: IpamClient) -> None:
    held = client.acquire_subnet("node-b", "dv4").cidr
    carved = [node_a.request_pool(options={"pool": "dv4"})["Pool"] for _ in range(3)]
    wider = node_a.request_pool(options={"pool": "dv4", "prefix-length": "22"})["Pool"]
    networks = [ipaddress.ip_network(c) for c in [held, *carved, wider]]
    assert len(set(networks)) == 5
    assert not any(a.overlaps(b) for i, a in enumerate(networks) for b in networks[i + 1 :])
    assert ipaddress.ip_network(wider).prefixlen == 22
    v6 = node_a.request_pool(v6=True)["Pool"]
    assert ipaddress.IPv6Network(v6).subnet_of(ipaddress.IPv6Network("fd20::/48"))
    # --ipam-opt reaches both halves of a dual-stack network: each family reads its own keys.
    both = {"pool": "dv4", "prefix-length": "26", "pool-v6": "dv6", "prefix-length-v6": "56"}
    assert ipaddress.ip_network(node_a.request_pool(options=both)["Pool"]).prefixlen == 26
    wide6 = ipaddress.IPv6Network(node_a.request_pool(options=both, v6=True)["Pool"])
    assert wide6.prefixlen == 56 and wide6.subnet_of(ipaddress.IPv6Network("fd20::/48"))
    # A host subnet is never carved out of a network's subnet either.
    for _ in range(3):
        host_subnet = ipaddress.ip_network(client.acquire_subnet("node-a", "dv4").cidr)
        client.allocate("node-a", f"c{host_subnet}", "eth0", [pb.AddressRequest(pool="dv4")])
        assert not any(host_subnet.overlaps(n) for n in networks[1:])


def test_pool_exhausted_and_overlap_with_a_host_subnet_are_clear(node_a: Plugin, client: IpamClient) -> None:
    node_a.request_pool(options={"pool": "tiny"})
    node_a.request_pool(options={"pool": "tiny"})
    assert node_a.err("IpamDriver.RequestPool", {"Pool": "", "Options": {"pool": "tiny"}, "V6": False}) == (
        'pool "tiny" (10.30.0.0/23) has no free /24 left for a Docker network'
    )
    host_subnet = client.acquire_subnet("node-b", "dv4").cidr
    message = node_a.err("IpamDriver.RequestPool", {"Pool": host_subnet, "V6": False})
    assert message == f'subnet {host_subnet} overlaps host subnet {host_subnet} of host "node-b"'


def test_pool_options_and_families_are_checked(node_a: Plugin) -> None:
    base = {"AddressSpace": "default", "Pool": "", "SubPool": "", "V6": False}
    assert "unknown option 'color'" in node_a.err("IpamDriver.RequestPool", {**base, "Options": {"color": "red"}})
    assert "prefix-length '33' is out of range for pool \"dv4\" (10.20.0.0/16): 16..30" in node_a.err(
        "IpamDriver.RequestPool", {**base, "Options": {"prefix-length": "33"}}
    )
    assert "is IPv6 but an IPv4 pool was asked for" in node_a.err(
        "IpamDriver.RequestPool", {**base, "Pool": "fd20:0:0:1::/64"}
    )
    assert "not inside any pool" in node_a.err("IpamDriver.RequestPool", {**base, "Pool": "192.168.7.0/24"})
    assert "--ip-range needs --subnet" in node_a.err("IpamDriver.RequestPool", {**base, "SubPool": "10.20.1.0/25"})
    assert "ip_range: 10.21.0.0/25 is not inside the subnet 10.20.1.0/24" in node_a.err(
        "IpamDriver.RequestPool", {**base, "Pool": "10.20.1.0/24", "SubPool": "10.21.0.0/25"}
    )


# --- addresses -----------------------------------------------------------------------------------


def test_addresses_gateway_aux_and_replay(node_a: Plugin, client: IpamClient) -> None:
    pool_id = node_a.request_pool("10.20.5.0/24", "10.20.5.128/25")["PoolID"]
    assert node_a.request_address(pool_id, "10.20.5.1", GATEWAY) == "10.20.5.1/24"
    assert node_a.request_address(pool_id, "10.20.5.5") == "10.20.5.5/24"  # aux: no options
    first = node_a.request_address(pool_id, "", MAC)
    second = node_a.request_address(pool_id, "", MAC)
    assert {first, second} == {"10.20.5.128/24", "10.20.5.129/24"}  # from the ip-range
    assert node_a.request_address(pool_id, "10.20.5.7", MAC) == "10.20.5.7/24"  # --ip outside the range
    assert docker_leases(client) == {
        "10.20.5.1": ("node-a", "gateway"),
        "10.20.5.5": ("node-a", "aux"),
        "10.20.5.128": ("node-a", "container"),
        "10.20.5.129": ("node-a", "container"),
        "10.20.5.7": ("node-a", "container"),
    }
    # dockerd restarted: the same requests again, container addresses without a MAC.
    node_a.ok("Plugin.Activate")
    assert node_a.request_pool("10.20.5.0/24", "10.20.5.128/25")["PoolID"] == pool_id
    assert node_a.request_address(pool_id, "10.20.5.1", GATEWAY) == "10.20.5.1/24"
    assert node_a.request_address(pool_id, "10.20.5.5") == "10.20.5.5/24"
    assert node_a.request_address(pool_id, "10.20.5.128") == "10.20.5.128/24"
    assert len(docker_leases(client)) == 5
    # A new container (with a MAC) asking for an address in use is refused, naming the holder.
    assert node_a.err("IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": "10.20.5.7", "Options": MAC}) == (
        'address 10.20.5.7 of network 10.20.5.0/24 is already held by a container on host "node-a"'
    )
    assert "is already its gateway" in node_a.err(
        "IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": "10.20.5.1", "Options": MAC}
    )
    assert "already has gateway 10.20.5.1, not 10.20.5.2" in node_a.err(
        "IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": "10.20.5.2", "Options": GATEWAY}
    )
    node_a.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": "10.20.5.7"})
    node_a.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": "10.20.5.7"})  # again: fine
    assert "10.20.5.7" not in docker_leases(client)
    lease = client.get_lease("10.20.5.128")
    assert (lease.address_cidr, lease.gateway, lease.subnet) == ("10.20.5.128/24", "10.20.5.1", "10.20.5.0/24")


def test_a_network_range_runs_out_with_a_clear_message(node_a: Plugin) -> None:
    pool_id = node_a.request_pool("10.20.9.0/24", "10.20.9.252/30")["PoolID"]
    got = {node_a.request_address(pool_id, "", MAC) for _ in range(3)}  # .255 is the broadcast address
    assert got == {"10.20.9.252/24", "10.20.9.253/24", "10.20.9.254/24"}
    assert node_a.err("IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": "", "Options": MAC}) == (
        "network 10.20.9.0/24 has no free address left in 10.20.9.252/30"
    )
    node_a.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": "10.20.9.253"})
    assert node_a.request_address(pool_id, "", MAC) == "10.20.9.253/24"  # reused (no cooldown)


def test_two_hosts_share_one_network(node_a: Plugin, node_b: Plugin, client: IpamClient) -> None:
    pool_id = node_a.request_pool("10.20.7.0/24")["PoolID"]
    assert node_b.request_pool("10.20.7.0/24")["PoolID"] == pool_id
    for node in (node_a, node_b):
        assert node.request_address(pool_id, "10.20.7.1", GATEWAY) == "10.20.7.1/24"
        assert node.request_address(pool_id, "10.20.7.2") == "10.20.7.2/24"
    on_a = {node_a.request_address(pool_id, "", MAC) for _ in range(5)}
    on_b = {node_b.request_address(pool_id, "", MAC) for _ in range(5)}
    assert len(on_a | on_b) == 10
    # A replay on node-b of an address node-a's container holds is a conflict, not a success.
    taken = sorted(on_a)[0].split("/")[0]
    assert 'held by a container on host "node-a"' in node_b.err(
        "IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": taken, "Options": None}
    )
    assert 'held by a container on host "node-a", not on "node-b"' in node_b.err(
        "IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": taken}
    )
    # node-a leaves: its containers' leases go, the gateway and aux address stay for node-b.
    for address in ("10.20.7.1", "10.20.7.2"):
        node_a.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": address})
    node_a.ok("IpamDriver.ReleasePool", {"PoolID": pool_id})
    left = docker_leases(client)
    assert left["10.20.7.1"] == ("node-a", "gateway") and left["10.20.7.2"] == ("node-a", "aux")
    assert {a for a, (host, role) in left.items() if role == "container"} == {a.split("/")[0] for a in on_b}
    # node-b, the last one, leaves: everything goes and the subnet is free again.
    for address in ("10.20.7.1", "10.20.7.2"):
        node_b.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": address})
    node_b.ok("IpamDriver.ReleasePool", {"PoolID": pool_id})
    node_b.ok("IpamDriver.ReleasePool", {"PoolID": pool_id})  # again: fine
    assert docker_leases(client) == {}
    assert node_a.request_pool("10.20.6.0/23")["Pool"] == "10.20.6.0/23"


def test_hosts_joining_and_leaving_concurrently_agree_on_one_network(
    node_a: Plugin, node_b: Plugin, client: IpamClient
) -> None:
    for third in range(10, 16):
        subnet = f"10.20.{third}.0/24"
        barrier = threading.Barrier(2)

        def join(node: Plugin, subnet: str = subnet, barrier: threading.Barrier = barrier) -> str:
            barrier.wait()
            return str(node.request_pool(subnet)["PoolID"])

        with ThreadPoolExecutor(2) as pool:
            ids = set(pool.map(join, [node_a, node_b]))
        assert ids == {f"{subnet}@default"}
        barrier = threading.Barrier(2)

        def leave_or_use(node: Plugin, pool_id: str = ids.pop(), barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            if node is node_a:
                node.ok("IpamDriver.ReleasePool", {"PoolID": pool_id})
            else:
                node.request_address(pool_id, "", MAC)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(leave_or_use, [node_a, node_b]))
        assert list(docker_leases(client).values()).count(("node-b", "container")) == third - 9


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "raw", "message"),
    [
        ("IpamDriver.RequestPool", b"{not json", "the request body is not valid JSON"),
        ("IpamDriver.RequestPool", b"[1, 2]", "the request body must be a JSON object, got an array"),
        ("IpamDriver.RequestAddress", b"", "the request body must be a JSON object, got null"),
        ("IpamDriver.RequestAddress", b'{"Address": ""}', "PoolID: missing from the request"),
        ("IpamDriver.ReleaseAddress", b'{"PoolID": "10.20.5.0/24@default"}', "Address: missing from the request"),
        ("IpamDriver.ReleasePool", b'{"PoolID": 7}', "PoolID: expected a string, got a number"),
        ("IpamDriver.RequestPool", b'{"Pool": "", "V6": "yes"}', "V6: expected true or false, got a string"),
        ("IpamDriver.RequestPool", b'{"Pool": "", "Options": [1]}', "Options: expected an object of strings"),
        ("IpamDriver.RequestPool", b'{"Pool": "10.20.1.0", "V6": false}', "is not a CIDR"),
        ("IpamDriver.RequestAddress", b'{"PoolID": "nonsense", "Address": ""}', "not a pool id of this driver"),
        (
            "IpamDriver.RequestAddress",
            b'{"PoolID": "10.99.0.0/24@default", "Address": ""}',
            "unknown pool id '10.99.0.0/24@default': no Docker network 10.99.0.0/24",
        ),
        ("IpamDriver.Frobnicate", b"{}", "unknown method 'IpamDriver.Frobnicate'"),
    ],
)
def test_bad_requests_get_500_with_a_message_and_the_agent_keeps_serving(
    node_a: Plugin, method: str, raw: bytes, message: str
) -> None:
    assert message in node_a.err(method, raw=raw)
    assert node_a.ok("Plugin.Activate") == {"Implements": ["IpamDriver"]}


def test_addresses_outside_the_pool_are_refused(node_a: Plugin) -> None:
    pool_id = node_a.request_pool("10.20.5.0/24")["PoolID"]
    for address, why in [
        ("10.20.6.1", "is outside the network subnet 10.20.5.0/24"),
        ("fd20::1", "is outside the network subnet 10.20.5.0/24"),
        ("10.20.5.0", "is the network address of 10.20.5.0/24"),
        ("10.20.5.255", "is the broadcast address of 10.20.5.0/24"),
        ("10.20.5.300", "is not a valid IP address"),
    ]:
        assert why in node_a.err("IpamDriver.RequestAddress", {"PoolID": pool_id, "Address": address, "Options": MAC})
    assert "is outside the network subnet" in node_a.err(
        "IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": "10.20.6.1"}
    )


def test_the_body_is_json_whatever_the_content_type(node_a: Plugin) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/json"):
        status, reply = node_a.call(
            "IpamDriver.RequestPool",
            raw=b'{"AddressSpace": "default", "Pool": "10.20.8.0/24", "SubPool": "", "V6": false}',
            headers={"Content-Type": content_type},
        )
        assert (status, reply["PoolID"]) == (200, "10.20.8.0/24@default")
        node_a.ok("IpamDriver.ReleasePool", {"PoolID": reply["PoolID"]})


def test_an_unreachable_server_is_named(sockets: Path) -> None:
    dead = f"127.0.0.1:{free_port()}"
    with serve_plugin(str(sockets / "dead.sock"), dead, "node-a") as plugin:
        message = plugin.err("IpamDriver.RequestPool", {"Pool": "", "V6": False})
        assert message.startswith(f"cannot reach IPAM server at {dead}")
        assert plugin.ok("Plugin.Activate") == {"Implements": ["IpamDriver"]}
