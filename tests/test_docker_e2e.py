"""End to end with a real dockerd: `docker network create --ipam-driver <ours>` and `docker run`,
served by a real `ipam-agent` process talking to the server.

Needs root, Debian's docker.io and busybox-static (installed by .ci/run). A private dockerd is
started for this module (see docker_daemon.py); the agent serves a plugin name of its own in
/run/docker/plugins.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker_daemon import IMAGE, DockerDaemon, DockerUnavailable
from docker_plugin import post

from ipam_client import IpamClient, NotFound, pb

PLUGIN = f"ipam-test-{os.getpid()}"
PLUGIN_SOCKET = f"/run/docker/plugins/{PLUGIN}.sock"
HOST = "docker-host"
# PID 1 ignores SIGTERM unless it says otherwise: stop at once instead of after docker's 10 s.
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerDaemon]:
    try:
        daemon = DockerDaemon()
    except DockerUnavailable as why:
        pytest.skip(str(why))
    try:
        daemon.start()
        daemon.import_busybox()
        yield daemon
    finally:
        daemon.destroy()


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def agent(server: str, client: IpamClient, tmp_path: Path) -> Iterator[AgentProcess]:
    """`ipam-agent` for HOST serving PLUGIN, ready when the plugin socket answers Activate."""
    client.create_pool("docker4", "10.40.0.0/16", 24)
    client.create_pool("docker6", "fd40::/48", 64)
    client.create_pool("small", "10.50.0.0/24", 24)
    sockets = Path(tempfile.mkdtemp(prefix="dka-"))
    log_path = tmp_path / "agent.log"
    command = [sys.executable, "-m", "ipam_agent.main", "--host", HOST, "--socket", str(sockets / "cni.sock")]
    command += ["--server", server, "--docker", "--docker-plugin-name", PLUGIN]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    running = AgentProcess(process, log_path)
    deadline = time.monotonic() + 20
    while True:
        try:
            if post(PLUGIN_SOCKET, "Plugin.Activate")[0] == 200:
                break
        except OSError:
            pass
        assert process.poll() is None, running.output()
        assert time.monotonic() < deadline, running.output()
        time.sleep(0.05)
    try:
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0, running.output()
        assert not Path(PLUGIN_SOCKET).exists()
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def docker(dockerd: DockerDaemon, agent: AgentProcess) -> Iterator[DockerDaemon]:
    """The module's dockerd with the agent running; containers and networks removed afterwards."""
    try:
        yield dockerd
    finally:
        dockerd.clean()


def create_network(docker: DockerDaemon, name: str, *args: str) -> None:
    docker.docker("network", "create", "--ipam-driver", PLUGIN, *args, name)


def addresses_inside(docker: DockerDaemon, *run_args: str) -> list[str]:
    """The eth0 addresses (CIDR) a fresh container sees from inside, with `ip addr`."""
    output = docker.docker("run", "--rm", *run_args, IMAGE, "ip", "addr", "show", "eth0").stdout
    return re.findall(r"inet6? (\S+) .*scope global", output)


def address_of(docker: DockerDaemon, container: str, network: str) -> str:
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return docker.docker("inspect", "--format", template, container).stdout.strip()


def subnets_of(docker: DockerDaemon, network: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The network's subnets as dockerd recorded them, IPv4 first."""
    output = docker.docker("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", network)
    return sorted((ipaddress.ip_network(s) for s in output.stdout.split()), key=lambda n: n.version)


def docker_leases(client: IpamClient) -> dict[str, str]:
    """Active Docker leases: address -> role."""
    return {
        lease.address: lease.attributes["docker.role"]
        for lease in client.list_leases(state=pb.LEASE_STATE_ACTIVE)
        if "docker.role" in lease.attributes
    }


def test_networks_containers_and_releases(
    docker: DockerDaemon, client: IpamClient, ipam_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    create_network(
        docker,
        "net-fixed",
        "--subnet=10.40.100.0/24",
        "--ip-range=10.40.100.128/25",
        "--gateway=10.40.100.1",
        "--aux-address=router=10.40.100.5",
    )
    create_network(docker, "net-carved")
    create_network(docker, "net-dual", "--ipv6", "--subnet=fd40:0:0:9::/64", "--ipam-opt=pool=docker4")
    carved = subnets_of(docker, "net-carved")
    dual = subnets_of(docker, "net-dual")  # its IPv4 half is carved too
    assert [n.version for n in dual] == [4, 6] and dual[1] == ipaddress.ip_network("fd40:0:0:9::/64")
    for subnet in (carved[0], dual[0]):
        assert subnet in list(ipaddress.IPv4Network("10.40.0.0/16").subnets(new_prefix=24))
    assert docker_leases(client) == {
        "10.40.100.1": "gateway",
        "10.40.100.5": "aux",
        str(carved[0].network_address + 1): "gateway",
        str(dual[0].network_address + 1): "gateway",
        "fd40:0:0:9::1": "gateway",
    }

    # A container sees the address the server leased to it, from the ip-range.
    inside = addresses_inside(docker, "--network=net-fixed")
    assert len(inside) == 1 and ipaddress.ip_interface(inside[0]) in ipaddress.ip_network("10.40.100.128/25")
    # Dual stack: one address per family, both from the server.
    inside_dual = sorted(
        (ipaddress.ip_interface(a) for a in addresses_inside(docker, "--network=net-dual")), key=lambda a: a.version
    )
    assert [a.network for a in inside_dual] == dual

    # A running container holds its lease; --ip gets exactly that address.
    docker.docker("run", "-d", "--name=c1", "--network=net-fixed", IMAGE, *SLEEPER)
    docker.docker("run", "-d", "--name=c2", "--network=net-fixed", "--ip=10.40.100.20", IMAGE, *SLEEPER)
    c1 = address_of(docker, "c1", "net-fixed")
    assert address_of(docker, "c2", "net-fixed") == "10.40.100.20"
    for address in (c1, "10.40.100.20"):
        lease = client.get_lease(address)
        assert (lease.state, lease.host, lease.attributes["docker.role"]) == (pb.LEASE_STATE_ACTIVE, HOST, "container")
        assert lease.attributes["docker.mac"]
    # The admin's view: `ipam lease list` shows each Docker lease's network, host, address and role,
    # and `ipam check` finds nothing wrong with Docker networks next to host subnets.
    listed = ipam_cli("lease", "list", "--host", HOST)
    assert listed.returncode == 0, listed.stderr
    assert f"docker:10.40.100.0/24#{c1}/container" in listed.stdout
    assert "docker:10.40.100.0/24#10.40.100.1/gateway" in listed.stdout
    assert "docker:10.40.100.0/24#10.40.100.5/aux" in listed.stdout
    checked = ipam_cli("check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The --rm containers above released theirs.
    assert sorted(a for a, role in docker_leases(client).items() if role == "container") == sorted([c1, "10.40.100.20"])

    # The same --ip again fails on docker's stderr with the driver's message.
    clash = docker.docker("run", "--rm", "--network=net-fixed", "--ip=10.40.100.20", IMAGE, "true", check=False)
    assert clash.returncode != 0
    assert 'address 10.40.100.20 of network 10.40.100.0/24 is already held by a container on host "docker-host"' in (
        clash.stderr
    )

    # Stop + rm releases; network rm releases gateway, aux and the subnet.
    docker.docker("stop", "c2")
    assert client.get_lease("10.40.100.20").state == pb.LEASE_STATE_RELEASED
    docker.docker("rm", "-f", "c1", "c2")
    assert client.get_lease(c1).state == pb.LEASE_STATE_RELEASED
    docker.docker("network", "rm", "net-fixed", "net-carved", "net-dual")
    assert docker_leases(client) == {}
    with pytest.raises(NotFound):
        client.get_lease("10.40.100.1")  # the subnet and its lease history are gone
    create_network(docker, "net-again", "--subnet=10.40.100.0/24")  # free again


def test_errors_reach_dockers_stderr(docker: DockerDaemon, client: IpamClient) -> None:
    create_network(docker, "net-a", "--subnet=10.40.7.0/24")
    overlap = docker.docker("network", "create", "--ipam-driver", PLUGIN, "--subnet=10.40.6.0/23", "net-b", check=False)
    assert overlap.returncode != 0
    assert "IpamDriver.RequestPool: subnet 10.40.6.0/23 overlaps Docker network subnet 10.40.7.0/24" in overlap.stderr

    client.register_host("other-host")
    host_subnet = client.acquire_subnet("other-host", "docker4").cidr
    taken = docker.docker("network", "create", "--ipam-driver", PLUGIN, f"--subnet={host_subnet}", "net-c", check=False)
    assert f'subnet {host_subnet} overlaps host subnet {host_subnet} of host "other-host"' in taken.stderr

    create_network(docker, "net-small", "--ipam-opt=pool=small")
    exhausted = docker.docker(
        "network", "create", "--ipam-driver", PLUGIN, "--ipam-opt=pool=small", "net-d", check=False
    )
    assert exhausted.returncode != 0
    assert 'pool "small" (10.50.0.0/24) has no free /24 left for a Docker network' in exhausted.stderr


def test_dockerd_restart_replays_without_leaking_or_doubling(docker: DockerDaemon, client: IpamClient) -> None:
    create_network(docker, "net-r", "--subnet=10.40.60.0/24", "--gateway=10.40.60.1", "--aux-address=x=10.40.60.9")
    create_network(docker, "net-r6", "--ipv6", "--subnet=fd40:0:0:60::/64")
    docker.docker("run", "-d", "--name=kept", "--restart=always", "--network=net-r", IMAGE, *SLEEPER)
    docker.docker("run", "-d", "--name=plain", "--network=net-r6", IMAGE, *SLEEPER)
    network_wide = {a: role for a, role in docker_leases(client).items() if role != "container"}
    assert len(network_wide) == 4  # two gateways, one aux, the v4 gateway of net-r6

    for how in (signal.SIGKILL, signal.SIGTERM):
        docker.restart(how)
        # dockerd replayed pools, gateways, aux addresses and endpoints, then cleaned up: the
        # stopped container's addresses are released, the restarted one holds exactly one.
        kept = address_of(docker, "kept", "net-r")
        assert kept and docker.docker("inspect", "--format", "{{.State.Running}}", "kept").stdout.strip() == "true"
        assert docker_leases(client) == {**network_wide, kept: "container"}, docker.log()
        inside = docker.docker("exec", "kept", "ip", "addr", "show", "eth0").stdout
        assert f"inet {kept}/24" in inside

    # Everything still works after the restarts, and removing releases everything.
    assert len(addresses_inside(docker, "--network=net-r6")) == 2
    docker.docker("rm", "-f", "kept", "plain")
    docker.docker("network", "rm", "net-r", "net-r6")
    assert docker_leases(client) == {}
