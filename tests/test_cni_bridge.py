"""End to end: the reference CNI `bridge` plugin delegating to `ipam-cni`, two host agents, one server.

Debian's `containernetworking-plugins` provides `/usr/lib/cni/bridge`. Each test starts the
in-process server, creates a pool, starts two `ipam-agent` processes (hosts `node-a` and
`node-b`, one bridge each) and runs the bridge plugin exactly as a container runtime does: the
CNI_* environment variables, the network config on stdin, the result on stdout. The bridge
plugin finds `ipam-cni` on CNI_PATH, calls it for the address, and configures that address in
the network namespace, which is then read back with `ip -n NS -j addr`.

Needs root (network namespaces, bridges, veths). Everything created here (namespaces, bridges,
veths, the agents, their socket directory) is removed in teardown, even when a test fails; the
host's `net.ipv4.ip_forward`, which the bridge plugin turns on for `isGateway`, is put back. No
traffic is sent anywhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from ipam_client import IpamClient, NotFound, pb
from ipam_cni.install import find_compiler

CNI_DIR = Path("/usr/lib/cni")
BRIDGE = CNI_DIR / "bridge"
POOL = "e2e"
POOL_CIDR = "10.99.0.0/16"
HOST_PREFIX = 24
NETWORK = "e2e-net"
CNI_VERSION = "1.0.0"
CNI_TIMEOUT = 60.0
AGENT_START_SECONDS = 30.0
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


# --- what a runtime does --------------------------------------------------------------------------


@dataclass
class CniRun:
    """One plugin execution: exit code and output."""

    argv: str
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        value = json.loads(self.stdout)
        assert isinstance(value, dict), self.describe()
        return value

    def describe(self) -> str:
        cni_env = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()) if k.startswith("CNI_"))
        return f"{cni_env} {self.argv} -> exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def run_plugin(
    plugin: Path,
    command: str,
    config: dict[str, Any],
    cni_path: str,
    *,
    container_id: str = "",
    netns: str = "",
    ifname: str = "",
    cni_args: str = "",
) -> CniRun:
    """Execute a CNI plugin as libcni does: the runtime's environment plus the CNI_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({"CNI_COMMAND": command, "CNI_PATH": cni_path})
    for key, value in (
        ("CNI_CONTAINERID", container_id),
        ("CNI_NETNS", netns),
        ("CNI_IFNAME", ifname),
        ("CNI_ARGS", cni_args),
    ):
        if value:
            env[key] = value
    proc = subprocess.run(
        [str(plugin)],
        input=json.dumps(config),
        env=env,
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=False,
    )
    return CniRun(str(plugin), env, proc.returncode, proc.stdout, proc.stderr)


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def ipv4_addresses(*ip_args: str) -> list[str]:
    """The IPv4 addresses of `ip -j addr show ...`, as CIDR strings."""
    links = json.loads(ip("-j", *ip_args).stdout)
    found = [a for link in links for a in link.get("addr_info", []) if a.get("family") == "inet"]
    return [f"{a['local']}/{a['prefixlen']}" for a in found]


def namespace_ipv4(netns: str, ifname: str = "eth0") -> list[str]:
    """The IPv4 addresses configured on `ifname` inside the namespace."""
    return ipv4_addresses("-n", netns, "addr", "show", "dev", ifname)


def link_exists(netns: str, ifname: str) -> bool:
    return ip("-n", netns, "link", "show", "dev", ifname, check=False).returncode == 0


def host_ipv4(ifname: str) -> list[str]:
    return ipv4_addresses("addr", "show", "dev", ifname)


# --- the machine: two hosts, their agents and bridges ------------------------------------------


@dataclass
class Host:
    name: str
    bridge: str
    socket: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    """A server, a pool, two hosts with an agent each, and the namespaces the test asked for."""

    server: str
    client: IpamClient
    cni_path: str
    hosts: list[Host]
    ipam_agent: Path
    namespaces: list[str] = field(default_factory=list)
    _tag: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(2)}")

    def netns(self) -> str:
        """A new network namespace; it is deleted in teardown."""
        name = f"ipam-e2e-{self._tag}-{len(self.namespaces)}"
        self.namespaces.append(name)
        ip("netns", "add", name)
        return name

    def bridge_config(self, host: Host, **extra: Any) -> dict[str, Any]:
        return {
            "cniVersion": CNI_VERSION,
            "name": NETWORK,
            "type": "bridge",
            "bridge": host.bridge,
            "isGateway": True,
            "ipam": {"type": "ipam-cni", "pool": POOL, "agent_socket": host.socket},
            **extra,
        }

    def bridge(self, command: str, host: Host, container_id: str, netns: str, **extra: Any) -> CniRun:
        return run_plugin(
            BRIDGE,
            command,
            self.bridge_config(host, **extra),
            self.cni_path,
            container_id=container_id,
            netns=f"/var/run/netns/{netns}",
            ifname="eth0",
            cni_args=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=pod-{container_id}",
        )

    def add(self, host: Host, container_id: str, netns: str) -> dict[str, Any]:
        """ADD through the bridge plugin; asserts success and returns the result."""
        outcome = self.bridge("ADD", host, container_id, netns)
        assert outcome.returncode == 0, self.explain(outcome)
        return outcome.json()

    def delete(self, host: Host, container_id: str, netns: str, prev_result: dict[str, Any] | None) -> CniRun:
        """DEL through the bridge plugin, with prevResult as libcni sends it when it has one cached."""
        extra = {"prevResult": prev_result} if prev_result is not None else {}
        return self.bridge("DEL", host, container_id, netns, **extra)

    def restart_agent(self, host: Host, *extra: str) -> None:
        """Start the host's agent again (after `stop_agent`), with extra arguments."""
        host.process = _spawn_agent(self.ipam_agent, host.name, host.socket, host.log, self.server, *extra)
        _wait_for_agent(host)

    def explain(self, outcome: CniRun) -> str:
        logs = "\n".join(f"--- agent {h.name} log:\n{h.output()}" for h in self.hosts)
        return f"{outcome.describe()}\n{logs}"


def _require_machine() -> None:
    if sys.platform != "linux":
        pytest.skip("the CNI end-to-end test needs Linux network namespaces")
    if os.geteuid() != 0:
        pytest.skip("the CNI end-to-end test needs root (network namespaces, bridges, veths)")
    if not BRIDGE.is_file() or not os.access(BRIDGE, os.X_OK):
        pytest.skip(f"{BRIDGE} is missing: apt-get install containernetworking-plugins")
    if shutil.which("ip") is None:
        pytest.skip("the `ip` command (iproute2) is missing")


def _console_script(name: str) -> Path:
    """The console script installed next to this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e ./clients")
    return Path(found)


def _spawn_agent(
    ipam_agent: Path, name: str, socket_path: str, log: Path, server: str, *extra: str
) -> subprocess.Popen[bytes]:
    """`ipam-agent` for host `name`, its output appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(ipam_agent), "--host", name, "--socket", socket_path, "--server", server, *extra],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_for_agent(host: Host) -> None:
    """Until the agent answers on its socket (a STATUS request; any answer means it is serving)."""
    from ipam_cni import protocol

    probe = protocol.new_request("STATUS", network=NETWORK, pools=[POOL])
    deadline = time.monotonic() + AGENT_START_SECONDS
    while True:
        if host.process.poll() is not None:
            pytest.fail(f"ipam-agent {host.name} exited with {host.process.returncode}:\n{host.output()}")
        with contextlib.suppress(OSError, ValueError):
            protocol.request(host.socket, probe, timeout=5)
            return
        if time.monotonic() > deadline:
            waited = f"in {AGENT_START_SECONDS}s"
            pytest.fail(f"ipam-agent {host.name} did not answer on {host.socket} {waited}:\n{host.output()}")
        time.sleep(0.1)


def _stop(host: Host) -> None:
    if host.process.poll() is None:
        host.process.terminate()
        try:
            host.process.wait(15)
        except subprocess.TimeoutExpired:
            host.process.kill()
            host.process.wait()
    print(f"--- agent {host.name} (exit {host.process.returncode}) log:\n{host.output()}")


def _remove_bridge(name: str) -> None:
    """The bridge and every veth the bridge plugin attached to it."""
    listed = ip("-j", "link", "show", "master", name, check=False)
    if listed.returncode == 0 and listed.stdout.strip():
        for link in json.loads(listed.stdout):
            ip("link", "del", "dev", link["ifname"], check=False)
    ip("link", "del", "dev", name, check=False)


@pytest.fixture
def cluster(server: str, client: IpamClient) -> Iterator[Cluster]:
    _require_machine()
    ipam_cni = _console_script("ipam-cni")
    ipam_agent = _console_script("ipam-agent")
    client.create_pool(POOL, POOL_CIDR, HOST_PREFIX)

    with contextlib.ExitStack() as cleanup:
        # Short: unix socket paths are limited to 107 bytes.
        workdir = Path(tempfile.mkdtemp(prefix="ipam-"))
        cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
        bin_dir = workdir / "bin"
        bin_dir.mkdir()
        # As an operator installs it: the fast launcher, which forwards to the agent (the native one
        # when a C compiler is at hand, as `install` itself chooses by default).
        launcher = "native" if find_compiler()[0] is not None else "python"
        installed = subprocess.run(
            [str(ipam_cni), "install", str(bin_dir), "--launcher", launcher],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        print(installed.stdout, end="")

        forward = IP_FORWARD.read_text()
        cleanup.callback(IP_FORWARD.write_text, forward)

        suffix = secrets.token_hex(2)
        hosts: list[Host] = []
        for letter in ("a", "b"):
            name = f"node-{letter}"
            bridge = f"ipam-br-{letter}-{suffix}"  # at most 15 characters
            cleanup.callback(_remove_bridge, bridge)
            socket_path, log = str(workdir / f"{name}.sock"), workdir / f"{name}.log"
            host = Host(name, bridge, socket_path, _spawn_agent(ipam_agent, name, socket_path, log, server), log)
            cleanup.callback(_stop, host)
            hosts.append(host)
        for host in hosts:
            _wait_for_agent(host)

        result = Cluster(server, client, f"{bin_dir}:{CNI_DIR}", hosts, ipam_agent)
        # Registered last, so it runs first: namespaces go before the bridges and agents.
        cleanup.callback(_delete_namespaces, result.namespaces)
        yield result


def _delete_namespaces(names: list[str]) -> None:
    for name in names:
        ip("netns", "del", name, check=False)


# --- checks -------------------------------------------------------------------------------------


def only_address(result: dict[str, Any]) -> ipaddress.IPv4Interface:
    ips = result.get("ips")
    assert isinstance(ips, list) and len(ips) == 1, result
    address = ipaddress.ip_interface(ips[0]["address"])
    assert isinstance(address, ipaddress.IPv4Interface), result
    return address


def active_addresses(client: IpamClient, host: str) -> set[str]:
    return {lease.address_cidr for lease in client.list_leases(POOL, host, state=pb.LEASE_STATE_ACTIVE)}


def assert_lease(client: IpamClient, address: ipaddress.IPv4Interface, host: str, container_id: str) -> None:
    lease = client.get_lease(str(address.ip))
    assert lease.state == pb.LEASE_STATE_ACTIVE, lease
    assert (lease.address_cidr, lease.host, lease.pool) == (str(address), host, POOL), lease
    assert container_id in lease.owner_id, lease
    assert lease.interface == "eth0", lease
    assert lease.attributes.get("K8S_POD_NAMESPACE") == "e2e", lease
    assert lease.attributes.get("K8S_POD_NAME") == f"pod-{container_id}", lease


def assert_released(client: IpamClient, address: ipaddress.IPv4Interface) -> None:
    try:
        lease = client.get_lease(str(address.ip))
    except NotFound:
        return  # no lease at all holds it any more
    assert lease.state == pb.LEASE_STATE_RELEASED, lease


# --- the tests ----------------------------------------------------------------------------------


def test_add_configures_the_namespace_from_each_hosts_own_subnet(cluster: Cluster) -> None:
    client = cluster.client
    subnets = []
    for host in cluster.hosts:
        netns = cluster.netns()
        container_id = f"ctr-{host.name}"
        result = cluster.add(host, container_id, netns)
        assert result["cniVersion"] == CNI_VERSION, result
        address = only_address(result)
        assert address.network.prefixlen == HOST_PREFIX, result
        assert address.network.subnet_of(ipaddress.IPv4Network(POOL_CIDR)), result

        # Really configured in the container's namespace, on the interface the runtime named.
        assert namespace_ipv4(netns) == [str(address)], result
        # The server agrees: the host's subnet holds it, the lease is this container's.
        host_subnets = client.list_subnets(POOL, host.name)
        assert len(host_subnets) == 1, host_subnets
        subnet = host_subnets[0]
        assert address.network == ipaddress.ip_network(subnet.cidr), (result, subnet)
        assert result["ips"][0].get("gateway") == subnet.gateway, (result, subnet)
        assert_lease(client, address, host.name, container_id)
        # The bridge plugin (isGateway) put the gateway the IPAM plugin returned on the host's bridge.
        assert f"{subnet.gateway}/{HOST_PREFIX}" in host_ipv4(host.bridge)
        subnets.append(address.network)

    assert subnets[0] != subnets[1], subnets


def test_del_releases_and_a_repeated_del_succeeds(cluster: Cluster) -> None:
    client = cluster.client
    host = cluster.hosts[0]
    netns = cluster.netns()
    result = cluster.add(host, "ctr-del", netns)
    address = only_address(result)
    assert active_addresses(client, host.name) == {str(address)}

    first = cluster.delete(host, "ctr-del", netns, result)
    assert first.returncode == 0, cluster.explain(first)
    assert_released(client, address)
    assert active_addresses(client, host.name) == set()
    assert not link_exists(netns, "eth0"), "the bridge plugin left eth0 in the namespace"

    again = cluster.delete(host, "ctr-del", netns, result)
    assert again.returncode == 0, cluster.explain(again)
    without_prev_result = cluster.delete(host, "ctr-del", netns, None)
    assert without_prev_result.returncode == 0, cluster.explain(without_prev_result)

    # DEL for a container that never got an address (the runtime calls it after a failed ADD).
    never = cluster.delete(host, "ctr-never-added", cluster.netns(), None)
    assert never.returncode == 0, cluster.explain(never)

    # The released address can be handed out again: the next ADD succeeds.
    later = cluster.add(host, "ctr-after-del", cluster.netns())
    assert only_address(later).network == address.network


def test_gc_releases_the_attachments_not_listed(cluster: Cluster) -> None:
    client = cluster.client
    node_a, node_b = cluster.hosts
    netns = {cid: cluster.netns() for cid in ("ctr-keep", "ctr-gone-1", "ctr-gone-2", "ctr-other-host")}
    addresses = {
        cid: only_address(cluster.add(node_b if cid == "ctr-other-host" else node_a, cid, ns))
        for cid, ns in netns.items()
    }
    assert active_addresses(client, node_a.name) == {
        str(addresses[cid]) for cid in ("ctr-keep", "ctr-gone-1", "ctr-gone-2")
    }

    # Debian's bridge plugin speaks CNI up to 1.0.0, so GC (1.1.0) goes to ipam-cni directly, with
    # the same stdin the bridge plugin would pass on, as a 1.1 runtime's GC would reach it.
    config = cluster.bridge_config(node_a, cniVersion="1.1.0")
    config["cni.dev/valid-attachments"] = [{"containerID": "ctr-keep", "ifname": "eth0"}]
    gc = run_plugin(Path(cluster.cni_path.split(":")[0]) / "ipam-cni", "GC", config, cluster.cni_path)
    assert gc.returncode == 0, cluster.explain(gc)
    if gc.stdout.strip():
        assert "code" not in gc.json(), cluster.explain(gc)

    assert active_addresses(client, node_a.name) == {str(addresses["ctr-keep"])}
    assert_lease(client, addresses["ctr-keep"], node_a.name, "ctr-keep")
    assert_released(client, addresses["ctr-gone-1"])
    assert_released(client, addresses["ctr-gone-2"])
    # Another host's lease of the same network is not this host's to collect.
    assert active_addresses(client, node_b.name) == {str(addresses["ctr-other-host"])}
    assert_lease(client, addresses["ctr-other-host"], node_b.name, "ctr-other-host")

    # The runtime's DEL of a collected attachment still succeeds.
    late = cluster.delete(node_a, "ctr-gone-1", netns["ctr-gone-1"], None)
    assert late.returncode == 0, cluster.explain(late)


def test_concurrent_adds_on_one_host_get_different_addresses(cluster: Cluster) -> None:
    count = 4
    host = cluster.hosts[0]
    containers = [(f"ctr-par-{i}", cluster.netns()) for i in range(count)]
    start = threading.Barrier(count)
    outcomes: dict[str, CniRun] = {}

    def add(container_id: str, netns: str) -> None:
        start.wait()
        outcomes[container_id] = cluster.bridge("ADD", host, container_id, netns)

    threads = [threading.Thread(target=add, args=pair) for pair in containers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    addresses = {}
    for container_id, netns in containers:
        outcome = outcomes[container_id]
        assert outcome.returncode == 0, cluster.explain(outcome)
        address = only_address(outcome.json())
        assert namespace_ipv4(netns) == [str(address)]
        assert_lease(cluster.client, address, host.name, container_id)
        addresses[container_id] = address

    assert len(set(addresses.values())) == count, addresses
    assert len({a.network for a in addresses.values()}) == 1, addresses  # all from the host's one subnet
    assert active_addresses(cluster.client, host.name) == {str(a) for a in addresses.values()}


def test_a_gateway_bridge_keeps_its_host_to_one_subnet(cluster: Cluster) -> None:
    """A bridge with isGateway puts the gateway of its subnet on the bridge and cannot take a
    second: a full host subnet is a clear "exhausted" CNI error, and the bridge stays intact."""
    client = cluster.client
    client.create_pool("small", "10.98.0.0/16", 29)  # 5 assignable addresses per host subnet
    host = cluster.hosts[0]
    ipam = {"type": "ipam-cni", "pool": "small", "agent_socket": host.socket}
    addresses = []
    for i in range(5):
        outcome = cluster.bridge("ADD", host, f"ctr-small-{i}", cluster.netns(), ipam=ipam)
        assert outcome.returncode == 0, cluster.explain(outcome)
        addresses.append(only_address(outcome.json()))
    subnets = client.list_subnets("small", host.name)
    assert len(subnets) == 1, subnets
    assert {a.network for a in addresses} == {ipaddress.ip_network(subnets[0].cidr)}

    sixth = cluster.bridge("ADD", host, "ctr-small-5", cluster.netns(), ipam=ipam)
    assert sixth.returncode != 0, cluster.explain(sixth)
    error = sixth.json()
    assert error["code"] == 101, cluster.explain(sixth)  # ipam-cni's "exhausted"
    assert f'pool "small" is exhausted on host "{host.name}"' in error["msg"], error
    assert "already has an IP address" not in sixth.stdout, cluster.explain(sixth)
    assert len(client.list_subnets("small", host.name)) == 1
    assert f"{subnets[0].gateway}/29" in host_ipv4(host.bridge)

    # A freed address is handed out again from the same subnet.
    freed = cluster.bridge("DEL", host, "ctr-small-0", cluster.netns(), ipam=ipam)
    assert freed.returncode == 0, cluster.explain(freed)
    again = cluster.bridge("ADD", host, "ctr-small-6", cluster.netns(), ipam=ipam)
    assert again.returncode == 0, cluster.explain(again)
    assert only_address(again.json()).network == addresses[0].network


def test_single_subnet_false_lets_a_host_take_a_second_subnet(cluster: Cluster) -> None:
    """Where each subnet is routed without a gateway on the bridge, `ipam.single_subnet: false`
    lets the host grow past one subnet."""
    client = cluster.client
    client.create_pool("grow", "10.97.0.0/16", 29)
    host = cluster.hosts[1]
    ipam = {"type": "ipam-cni", "pool": "grow", "agent_socket": host.socket, "single_subnet": False}
    for i in range(6):
        outcome = cluster.bridge("ADD", host, f"ctr-grow-{i}", cluster.netns(), ipam=ipam, isGateway=False)
        assert outcome.returncode == 0, cluster.explain(outcome)
    assert len(client.list_subnets("grow", host.name)) == 2


def test_the_agent_releases_a_lease_whose_namespace_went_while_it_was_down(cluster: Cluster) -> None:
    """The runtime's DEL fails while the agent is down and the runtime forgets it (podman 4.3 logs
    it, and never sends GC): once back, the agent releases the lease of the container whose network
    namespace is gone, after the grace period, and keeps the lease of the one still there."""
    client = cluster.client
    host = cluster.hosts[0]
    gone_ns, staying_ns = cluster.netns(), cluster.netns()
    gone = cluster.add(host, "ctr-gone", gone_ns)
    staying = only_address(cluster.add(host, "ctr-staying", staying_ns))
    gone_address = only_address(gone)

    _stop(host)
    lost = cluster.delete(host, "ctr-gone", gone_ns, gone)
    assert lost.returncode != 0 and lost.json()["code"] == 11, cluster.explain(lost)  # try again later
    ip("netns", "del", gone_ns)  # the runtime removes the container all the same
    assert active_addresses(client, host.name) == {str(gone_address), str(staying)}

    grace = 4
    started = time.time()
    cluster.restart_agent(host, "--cni-reconcile-interval", "0.5", "--cni-reconcile-grace", str(grace))
    deadline = time.monotonic() + 120
    while active_addresses(client, host.name) != {str(staying)}:
        assert time.monotonic() < deadline, cluster.explain(lost)
        time.sleep(0.2)
    released = client.get_lease(str(gone_address.ip))
    assert released.state == pb.LEASE_STATE_RELEASED, released
    # Not before the namespace had been missing for the grace period, as the agent saw it.
    assert released.release_time.ToDatetime(tzinfo=UTC).timestamp() >= started + grace, (released, started)
    assert_lease(client, staying, host.name, "ctr-staying")
    (record,) = client.iter_gc_records(host=host.name, reason=pb.GC_REASON_RUNTIME_GONE)
    assert (record.item.target, record.item.owner_id) == (str(gone_address.ip), "ctr-gone"), record
    assert "network namespace is gone" in record.detail, record
    assert f"CNI reconciliation released {gone_address.ip} of ctr-gone/eth0" in host.output()

    # The runtime's DEL, retried later, still succeeds.
    late = cluster.delete(host, "ctr-gone", gone_ns, gone)
    assert late.returncode == 0, cluster.explain(late)


def test_a_gateway_bridge_refuses_an_address_outside_its_hosts_subnet(cluster: Cluster) -> None:
    """A requested address (`ips`) in another block would put a second gateway on the bridge:
    refused with the address error (CNI 100); one in the host's own subnet is granted."""
    client = cluster.client
    client.create_pool("small", "10.98.0.0/16", 29)
    node_a, node_b = cluster.hosts
    ipam = {"type": "ipam-cni", "pool": "small", "agent_socket": node_a.socket}
    others = ipaddress.ip_network(client.acquire_subnet(node_b.name, "small").cidr)
    first = only_address(cluster.bridge("ADD", node_a, "ctr-own-1", cluster.netns(), ipam=ipam).json())
    own = first.network
    free = next(n for n in ipaddress.ip_network("10.98.0.0/16").subnets(new_prefix=29) if n not in (own, others))

    for taken_block in (others, free):
        wanted = str(taken_block.network_address + 3)
        outcome = cluster.bridge(
            "ADD", node_a, f"ctr-{wanted}", cluster.netns(), ipam=ipam, runtimeConfig={"ips": [wanted]}
        )
        error = outcome.json()
        assert outcome.returncode != 0 and error["code"] == 100, cluster.explain(outcome)
        assert f'address: {wanted} is outside the subnet of pool "small" that host "{node_a.name}" uses' in error["msg"]
        assert "already has an IP address" not in outcome.stdout
    assert [s.cidr for s in client.list_subnets("small", node_a.name)] == [str(own)]

    wanted = str(own.network_address + 5)
    granted = cluster.bridge("ADD", node_a, "ctr-own-2", cluster.netns(), ipam=ipam, runtimeConfig={"ips": [wanted]})
    assert granted.returncode == 0, cluster.explain(granted)
    assert str(only_address(granted.json()).ip) == wanted
