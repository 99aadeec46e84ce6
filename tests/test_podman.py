"""End to end: Podman (CNI network backend) runs containers on a bridge network whose IPAM is `ipam-cni`.

The recipe of docs/cni.md ("Runtimes tried"), in a private Podman root: the in-process server, a
pool, one `ipam-agent`, the launcher written by `ipam-cni install` next to the reference `bridge`
plugin, a network config, and a busybox image imported from Debian's busybox-static. Needs root,
podman, runc, containernetworking-plugins and busybox-static; everything it creates is removed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ipam_client import IpamClient, pb

CNI_DIR = Path("/usr/lib/cni")
BIN = Path(sys.executable).parent  # this environment's ipam-cni and ipam-agent
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
BUSYBOX = Path("/bin/busybox")
POOL = "podman-v4"
HOST = "podman-node"
IMAGE = "localhost/ipam-test-busybox"
# Podman's default rlimits (nofile 1048576, nproc 32768) can exceed what a container of a CI
# machine may set; the test asks for modest ones.
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("podman") or not (CNI_DIR / "bridge").exists() or not BUSYBOX.exists(),
    reason="needs root, podman, containernetworking-plugins and busybox-static",
)


@dataclass
class Podman:
    root: Path
    network: str

    def run(self, *args: str, check: bool = True, stdin: bytes = b"") -> str:
        env = {**os.environ, "CONTAINERS_CONF": str(self.root / "containers.conf")}
        command = ["podman", "--root", str(self.root / "storage"), "--runroot", str(self.root / "run")]
        command += ["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file", *args]
        done = subprocess.run(command, env=env, input=stdin, capture_output=True, timeout=180, check=False)
        out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        assert done.returncode == 0 or not check, f"{' '.join(command)}\n{out}\n{err}"
        return out

    def eth0(self, *run_args: str) -> ipaddress.IPv4Interface:
        """The IPv4 address of eth0 in a container started with `run_args`."""
        out = self.run("run", *ULIMITS, "--network", self.network, *run_args, "/bin/busybox", "ip", "-4", "-o", "addr")
        return ipaddress.IPv4Interface(next(line.split()[3] for line in out.splitlines() if " eth0 " in line))


@pytest.fixture
def podman(client: IpamClient, server: str) -> Iterator[Podman]:
    client.create_pool(POOL, "10.218.0.0/16", 24)
    root = Path(tempfile.mkdtemp(prefix="ipam-podman-"))  # podman wants its runroot short
    tag = secrets.token_hex(3)
    result = Podman(root, f"ipamtest-{tag}")
    forward = IP_FORWARD.read_text()  # the bridge plugin turns forwarding on for isGateway
    agent: subprocess.Popen[bytes] | None = None
    try:
        socket = root / "agent.sock"
        agent = subprocess.Popen(
            [str(BIN / "ipam-agent"), "--host", HOST, "--server", server, "--socket", str(socket), "--no-docker"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _configure(root, result.network, f"cni-ipam-{tag}", socket)
        archive = subprocess.run(["tar", "-C", str(root / "rootfs"), "-c", "."], capture_output=True, check=True)
        result.run("import", "-", IMAGE, stdin=archive.stdout)
        while not socket.exists():
            assert agent.poll() is None, "ipam-agent exited"
            time.sleep(0.1)
        yield result
    finally:
        result.run("rm", "--all", "--force", check=False)
        result.run("system", "reset", "--force", check=False)
        subprocess.run(["ip", "link", "del", f"cni-ipam-{tag}"], capture_output=True, check=False)
        if agent:
            agent.terminate()
            agent.wait(timeout=30)
        IP_FORWARD.write_text(forward)
        shutil.rmtree(root, ignore_errors=True)


def _configure(root: Path, network: str, bridge_name: str, socket: Path) -> None:
    """The launcher and the reference plugins, podman's CNI settings, the network, the image's files."""
    bin_dir, conf_dir, rootfs = root / "bin", root / "net.d", root / "rootfs"
    for directory in (bin_dir, conf_dir, rootfs / "bin"):
        directory.mkdir(parents=True)
    subprocess.run([str(BIN / "ipam-cni"), "install", str(bin_dir)], capture_output=True, check=True)
    for plugin in ("bridge", "loopback"):
        (bin_dir / plugin).symlink_to(CNI_DIR / plugin)
    (root / "containers.conf").write_text(
        f'[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["{bin_dir}"]\nnetwork_config_dir = "{conf_dir}"\n'
    )
    ipam = {"type": "ipam-cni", "pools": [POOL], "routes": [{"dst": "0.0.0.0/0"}], "agent_socket": str(socket)}
    bridge = {"type": "bridge", "bridge": bridge_name, "isGateway": True, "ipam": ipam}
    config = {"cniVersion": "1.0.0", "name": network, "plugins": [bridge]}
    (conf_dir / f"{network}.conflist").write_text(json.dumps(config))
    shutil.copy(BUSYBOX, rootfs / "bin" / "busybox")


def leases(client: IpamClient) -> list[pb.Lease]:
    return list(client.list_leases(POOL, HOST, state=pb.LEASE_STATE_UNSPECIFIED))


def test_podman_run_gets_its_address_from_the_pool_and_gives_it_back(podman: Podman, client: IpamClient) -> None:
    name = "ipam-web"
    podman.run("run", "-d", "--name", name, *ULIMITS, "--network", podman.network, IMAGE, "/bin/busybox", "sleep", "60")
    container_id = podman.run("inspect", "--format", "{{.Id}}", name).strip()
    out = podman.run("exec", name, "/bin/busybox", "ip", "-4", "-o", "addr")
    address = ipaddress.IPv4Interface(next(line.split()[3] for line in out.splitlines() if " eth0 " in line))

    (lease,) = leases(client)
    assert (lease.address_cidr, lease.owner_id, lease.interface) == (str(address), container_id, "eth0")
    assert lease.state == pb.LEASE_STATE_ACTIVE
    assert address in ipaddress.ip_network("10.218.0.0/16") and str(address.ip) != lease.gateway

    # A second container on the same host gets another address of the host's subnet.
    second = podman.eth0("--rm", IMAGE)
    assert second.network == address.network and second != address

    podman.run("rm", "--force", name)
    assert {lease.state for lease in leases(client)} == {pb.LEASE_STATE_RELEASED}
