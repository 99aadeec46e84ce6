"""Docker IPAM driver cost: `docker run --rm` on a network of ours against one of Docker's default IPAM.

    sudo python benchmarks/docker.py [--database-url URL] [--iterations 40] [--warmup 3]

Needs root, docker.io and busybox-static (as the end-to-end tests). Starts `ipam serve` (on an
embedded PostgreSQL when no URL is given), one `ipam-agent` serving the driver under a plugin name
of its own, and a private dockerd (tests/docker_daemon.py). Creates two networks with the same
bridge driver: one with `--ipam-driver` ours (a subnet carved from a pool in an address space of
its own), one with Docker's default IPAM. Each iteration runs `docker run --rm` of a trivial
container (`true`) on each network, alternating which goes first, so both see the same machine
state; one run on ours is an address request and release through agent, server and database.

Prints the median and p90 of both and the ratio of the medians (the issue's target: at most
1.10). With a given database, what it creates is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ipam_client import IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from docker_daemon import IMAGE, DockerDaemon
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile

PLUGIN = f"ipam-bench-{os.getpid()}"
PLUGIN_SOCKET = Path(f"/run/docker/plugins/{PLUGIN}.sock")
HOST = "bench-docker"


def start_agent(server: str, space: str, socket_dir: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ipam_agent.main", "--host", HOST, "--server", server]
    command += ["--socket", f"{socket_dir}/cni.sock", "--docker", "--docker-plugin-name", PLUGIN]
    command += ["--docker-address-space", space, "--log-level", "warning"]
    # No reconciliation: it would look at the system's dockerd, not the benchmark's (nor time anything).
    command += ["--docker-reconcile-interval", "0"]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 30
    while not PLUGIN_SOCKET.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"ipam-agent did not start (exit {process.poll()})")
        time.sleep(0.05)
    return process


def timed_run(daemon: DockerDaemon, network: str) -> float:
    start = time.perf_counter()
    daemon.docker("run", "--rm", f"--network={network}", IMAGE, "true")
    return time.perf_counter() - start


def report(name: str, samples: list[float]) -> float:
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1000
    print(f"{name:<28} median {median:7.1f} ms   p90 {percentile(ordered, 0.9):7.1f} ms   (n={len(ordered)})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL to use (default: an embedded one)")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()

    suffix = secrets.token_hex(3)
    space, pool = f"bench-docker-{suffix}", f"bench-docker-{suffix}"
    daemon = DockerDaemon()
    with database(args.database_url) as url, ipam_server(url, free_port(), *QUIET_SERVER) as server:
        client = IpamClient(server)
        client.create_address_space(space)
        client.create_pool(pool, "10.210.0.0/16", 24, space=space)
        client.register_host(HOST)
        socket_dir = tempfile.mkdtemp(prefix="bdk-")
        agent = start_agent(server, space, socket_dir)
        try:
            daemon.start()
            daemon.import_busybox()
            daemon.docker("network", "create", "--ipam-driver", PLUGIN, "bench-ours")
            daemon.docker("network", "create", "--subnet=10.211.0.0/24", "bench-default")
            networks = {"driver (ipam agent)": "bench-ours", "Docker default IPAM": "bench-default"}
            samples: dict[str, list[float]] = {name: [] for name in networks}
            for i in range(args.warmup + args.iterations):
                order = list(networks.items()) if i % 2 == 0 else list(reversed(networks.items()))
                for name, network in order:
                    seconds = timed_run(daemon, network)
                    if i >= args.warmup:
                        samples[name].append(seconds)
            print(f"docker run --rm {IMAGE} true, {args.iterations} runs each (after {args.warmup} warm-up):")
            ours = report("driver (ipam agent)", samples["driver (ipam agent)"])
            reference = report("Docker default IPAM", samples["Docker default IPAM"])
            print(f"ratio of medians (driver / default IPAM): {ours / reference:.3f}  (target: at most 1.10)")
            daemon.docker("network", "rm", "bench-ours", "bench-default")
        finally:
            daemon.destroy()
            agent.send_signal(signal.SIGTERM)
            agent.wait(15)
            shutil.rmtree(socket_dir, ignore_errors=True)
            client.delete_pool(pool, force=True)
            client.delete_address_space(space)
            client.close()


if __name__ == "__main__":
    main()
