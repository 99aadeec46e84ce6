"""End to end with a real dockerd: `docker network create --ipam-driver <ours>` and `docker run`,
served by a real `ipam-agent` process talking to the server.

Needs root, Debian's docker.io and busybox-static (installed by .ci/run). A private dockerd is
started for this module (see docker_daemon.py); the agent serves a plugin name of its own in
/run/docker/plugins.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from api_checks import age_docker
from docker_daemon import IMAGE, DockerDaemon, DockerUnavailable
from docker_plugin import post
from processes import free_port
from sqlalchemy import Engine

from ipam_agent.docker_engine import DockerEngine
from ipam_agent.docker_reconcile import Reconciler, reconcile_forever
from ipam_agent.heartbeat import Registration
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

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(15) == 0, self.output()
        assert not Path(PLUGIN_SOCKET).exists()


@pytest.fixture
def start_agent(
    server: str, client: IpamClient, dockerd: DockerDaemon, tmp_path: Path
) -> Iterator[Callable[..., AgentProcess]]:
    """`start_agent(*extra_args)`: `ipam-agent` for HOST serving PLUGIN (and reconciling against
    the private dockerd), ready when the plugin socket answers; stopped afterwards. The probe is
    not Activate: that one is dockerd's, announcing its start (and its replay)."""
    client.create_pool("docker4", "10.40.0.0/16", 24)
    client.create_pool("docker6", "fd40::/48", 64)
    client.create_pool("small", "10.50.0.0/24", 24)
    sockets = Path(tempfile.mkdtemp(prefix="dka-"))
    started: list[AgentProcess] = []

    def start(*extra: str) -> AgentProcess:
        log_path = tmp_path / f"agent-{len(started)}.log"
        command = [sys.executable, "-m", "ipam_agent.main", "--host", HOST, "--socket", str(sockets / "cni.sock")]
        command += ["--server", server, "--docker", "--docker-plugin-name", PLUGIN]
        command += ["--docker-host", f"unix://{dockerd.socket}", *extra]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        started.append(AgentProcess(process, log_path))
        deadline = time.monotonic() + 20
        while True:
            try:
                if post(PLUGIN_SOCKET, "IpamDriver.GetCapabilities")[0] == 200:
                    return started[-1]
            except OSError:
                pass
            assert process.poll() is None, started[-1].output()
            assert time.monotonic() < deadline, started[-1].output()
            time.sleep(0.05)

    try:
        yield start
    finally:
        for running in reversed(started):  # the newest holds the plugin socket
            running.stop()
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def agent(start_agent: Callable[..., AgentProcess]) -> AgentProcess:
    return start_agent()


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


def test_a_refused_second_network_of_a_subnet_leaves_the_first_working(
    docker: DockerDaemon, agent: AgentProcess, start_agent: Callable[..., AgentProcess], client: IpamClient
) -> None:
    """`network create --subnet <n1's subnet> n3` fails, and n1 keeps working: its membership,
    its gateway and its containers' addresses survive; so after an agent and a dockerd restart."""
    create_network(docker, "n1")
    (subnet,) = subnets_of(docker, "n1")
    gateway = str(subnet.network_address + 1)
    docker.docker("run", "-d", "--name=on-n1", "--restart=always", "--network=n1", IMAGE, *SLEEPER)

    def refused() -> None:
        held = {gateway: "gateway", address_of(docker, "on-n1", "n1"): "container"}
        assert docker_leases(client) == held
        n3 = docker.docker("network", "create", "--ipam-driver", PLUGIN, f"--subnet={subnet}", "n3", check=False)
        assert n3.returncode != 0, n3
        assert f'subnet {subnet} is already used by a Docker network on host "{HOST}"' in n3.stderr, n3.stderr
        assert docker_leases(client) == held
        # n1 still hands out addresses (its membership is intact) and takes them back.
        assert ipaddress.ip_interface(addresses_inside(docker, "--network=n1")[0]).network == subnet
        assert docker_leases(client) == held

    refused()
    agent.stop()
    start_agent()  # the agent restarted: dockerd does not activate it again
    refused()
    docker.restart()  # dockerd restarted: it activates the driver and replays n1's pool
    refused()
    docker.docker("rm", "-f", "on-n1")
    docker.docker("network", "rm", "n1")
    assert docker_leases(client) == {}


def wait_for(done: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.2)


def test_reconciliation_releases_what_dockerd_dropped_while_the_agent_was_down(
    docker: DockerDaemon,
    agent: AgentProcess,
    start_agent: Callable[..., AgentProcess],
    client: IpamClient,
    engine: Engine,
    ipam_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    create_network(docker, "net-gc", "--subnet=10.40.70.0/24", "--gateway=10.40.70.1")
    docker.docker("run", "-d", "--name=vanishing", "--network=net-gc", IMAGE, *SLEEPER)
    docker.docker("run", "-d", "--name=staying", "--network=net-gc", IMAGE, *SLEEPER)
    vanishing, staying = address_of(docker, "vanishing", "net-gc"), address_of(docker, "staying", "net-gc")
    # A network this dockerd does not have (asked for by a dockerd whose state was wiped since).
    status, _ = post(PLUGIN_SOCKET, "IpamDriver.RequestPool", {"AddressSpace": "default", "Pool": "10.40.71.0/24"})
    assert status == 200

    agent.stop()
    started = time.monotonic()
    docker.docker("rm", "-f", "vanishing")  # dockerd cannot reach the driver: the release is lost
    print(f"docker rm -f with the driver down took {time.monotonic() - started:.1f} s")
    assert client.get_lease(vanishing).state == pb.LEASE_STATE_ACTIVE

    age_docker(engine, 600)  # all of it older than the agent's minimum age of 60 s
    restarted = start_agent("--docker-reconcile-interval", "1")
    wait_for(lambda: client.get_lease(vanishing).state == pb.LEASE_STATE_RELEASED, "the lost release")
    wait_for(lambda: len(list(client.iter_gc_records(reason=pb.GC_REASON_RUNTIME_GONE))) == 2, "both records")
    assert docker_leases(client) == {"10.40.70.1": "gateway", staying: "container"}
    records = {(r.item.kind, r.item.host, r.item.target): r.detail for r in client.iter_gc_records()}
    assert records == {
        ("lease", HOST, vanishing): "docker reconciliation: address no longer used by dockerd",
        ("subnet", HOST, "10.40.71.0/24"): "docker reconciliation: network gone from dockerd; deleted, no other "
        "host uses it",
    }
    history = ipam_cli("gc", "history", "--host", HOST)
    assert history.returncode == 0 and vanishing in history.stdout and "runtime_gone" in history.stdout, history
    assert f"Docker reconciliation released address {vanishing}" in restarted.output()

    # Every interval again: an address the driver handed out that no endpoint holds (dockerd
    # died right after asking) goes once it is older than the minimum age.
    stray = post(PLUGIN_SOCKET, "IpamDriver.RequestAddress", {"PoolID": "10.40.70.0/24@default", "Address": ""})
    stray_address = stray[1]["Address"].split("/")[0]
    time.sleep(1.5)  # a round or more with it young: kept
    assert client.get_lease(stray_address).state == pb.LEASE_STATE_ACTIVE
    age_docker(engine, 600)
    wait_for(lambda: client.get_lease(stray_address).state == pb.LEASE_STATE_RELEASED, "the stray address")
    assert docker_leases(client) == {"10.40.70.1": "gateway", staying: "container"}
    assert "Docker reconciliation skipped" not in restarted.output()
    assert "Docker reconciliation failed" not in restarted.output()


def test_reconciliation_outages_cost_one_warning_a_round(
    dockerd: DockerDaemon, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """dockerd or the server unreachable: a warning naming it, and the next round tries again."""
    caplog.set_level(logging.WARNING, "ipam_agent.docker_reconcile")
    dead_server = f"127.0.0.1:{free_port()}"
    with IpamClient(dead_server, retries=0, timeout=2) as client:
        registration = Registration(client, HOST, {})
        live = Reconciler(client, registration, DockerEngine(f"unix://{dockerd.socket}"), PLUGIN, "default")
        assert live.run_once() is None
        gone = Reconciler(client, registration, DockerEngine(f"unix://{tmp_path}/none.sock"), PLUGIN, "default")
        assert gone.run_once() is None
        stop = threading.Event()
        rounds = threading.Thread(target=reconcile_forever, args=(gone.run_once, 0.05, stop, "Docker"))
        rounds.start()
        wait_for(lambda: len(caplog.records) >= 4, "two more rounds")
        stop.set()
        rounds.join(5)
    assert not rounds.is_alive()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith(f"Docker reconciliation failed: cannot reach IPAM server at {dead_server}: ")
    assert messages[1].startswith(f"Docker reconciliation skipped: cannot reach dockerd at unix://{tmp_path}/none.sock")
    assert all(r.levelno == logging.WARNING and "\n" not in r.getMessage() for r in caplog.records)
