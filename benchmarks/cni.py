"""CNI IPAM plugin latency: `ipam-cni` (through the host agent) against the reference `host-local`.

    python benchmarks/cni.py [--database-url URL] [--iterations 200] [--warmup 10] [--ipam-cni PATH]
                             [--launcher auto|native|python] [--python-launcher]
                             [--baseline AGENT IPAM_CNI]

Starts `ipam serve` (on an embedded PostgreSQL when no URL is given) and one `ipam-agent`, creates
a pool in an address space of its own, then executes both IPAM plugins the way a main plugin
(bridge, macvlan, ...) delegates to them: the plugin executable with the CNI_* environment and
the whole network config on stdin. Each iteration runs, for a new container id, `ipam-cni` ADD
and DEL, then `host-local` ADD and DEL (its own dataDir in a temporary directory), so both see the
same machine state. `ipam-cni` is timed as an operator installs it: `ipam-cni install` writes
its fast launcher into a temporary CNI bin dir (forwarding the invocation to the agent: the native
launcher when a C compiler works, else the Python one started with `-I -S`; `--launcher` is passed
on). `--python-launcher` also times the Python launcher (`install --launcher python`, through the
same agent) in the same run. Also timed, to tell where the time goes: the same ADD sent straight to the agent's
socket from this process (agent + server + database, no plugin process), the Allocate RPC the
agent makes, sent from this process (server + database only), and `python -I -S -c pass` with
the launcher's interpreter (the floor of any Python executable). `--ipam-cni` names
the `ipam-cni` console script of another installation to install the launcher from, e.g. a
non-editable one in a venv of its own as deployed. `--baseline AGENT IPAM_CNI` names the
`ipam-agent` and `ipam-cni` console scripts of another installation (e.g. the previous version):
a second agent of its own, with its launcher, is timed in the same run, so that both see the same
machine state (the plugins' order rotates from one iteration to the next).

Prints median and p90 of ADD, DEL and ADD+DEL for both plugins and the ratio of the ADD medians
(the target: ipam-cni ADD median at most 4x host-local's), and the load averages before and
after. Needs no root: no namespace
is touched (an IPAM plugin never enters CNI_NETNS). With a given database, what it creates is
deleted at the end. Figures on a shared machine are noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ipam_client import AddressSpec, IpamClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import QUIET_SERVER, database, free_port, ipam_server, percentile

HOST_LOCAL = Path("/usr/lib/cni/host-local")
NETWORK = "bench-cni"
AGENT_START_SECONDS = 30.0
SAMPLES = (
    *("ours-add", "ours-del", "ref-add", "ref-del", "base-add", "base-del", "pyl-add", "pyl-del"),
    *("agent", "rpc", "py"),
)


def console_script(name: str) -> Path:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} is not installed: pip install -e ./clients")
    return Path(found)


def run_plugin(plugin: Path, command: str, config: dict[str, Any], container_id: str) -> tuple[float, str]:
    """Execute the plugin as libcni does; returns (seconds, stdout). Exits on a plugin failure."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update(
        CNI_COMMAND=command,
        CNI_CONTAINERID=container_id,
        # Must be set for ADD; an IPAM plugin never enters it, so this process's own will do.
        CNI_NETNS=f"/proc/{os.getpid()}/ns/net",
        CNI_IFNAME="eth0",
        CNI_PATH=str(plugin.parent),
    )
    stdin = json.dumps(config)
    start = time.perf_counter()
    proc = subprocess.run([str(plugin)], input=stdin, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(
            f"{plugin.name} {command} {container_id} exited with {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return elapsed, proc.stdout


def install_launcher(console: Path, bin_dir: Path, launcher: str | None = None) -> tuple[Path, str]:
    """`ipam-cni install bin_dir` with the given installation's console script (and `--launcher`
    unless None: older installations have no such option); the plugin and what install printed."""
    bin_dir.mkdir()
    option = ["--launcher", launcher] if launcher else []
    proc = subprocess.run([str(console), "install", str(bin_dir), *option], check=True, capture_output=True, text=True)
    return bin_dir / "ipam-cni", proc.stdout.strip()


@contextlib.contextmanager
def agent(executable: Path, server: str, host: str, workdir: Path) -> Iterator[str]:
    """`ipam-agent` for `host`; yields its socket path once it answers."""
    from ipam_cni import protocol

    socket_path = str(workdir / "agent.sock")
    log = workdir / "agent.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(executable), "--host", host, "--socket", socket_path, "--server", server],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        probe = protocol.new_request("STATUS", network=NETWORK)
        deadline = time.monotonic() + AGENT_START_SECONDS
        while True:
            if process.poll() is not None:
                raise SystemExit(f"ipam-agent exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(OSError, ValueError):
                protocol.request(socket_path, probe, timeout=5)
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"ipam-agent did not answer on {socket_path}:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield socket_path
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def agent_round_trip(socket_path: str, pool: str, space: str, container: str) -> float:
    """ADD then DEL straight to the agent's socket, as ipam-cni sends them; returns the ADD's seconds."""
    from ipam_cni import protocol

    message = protocol.new_request(
        "ADD", container_id=container, ifname="eth0", network=NETWORK, pools=[pool], space=space
    )
    start = time.perf_counter()
    reply = protocol.request(socket_path, message)
    elapsed = time.perf_counter() - start
    released = protocol.request(socket_path, {**message, "command": "DEL"})
    if not reply.get("ok") or not released.get("ok"):
        raise SystemExit(f"agent refused: ADD {reply}, DEL {released}")
    return elapsed


def allocate_rpc(ipam: IpamClient, host: str, pool: str, space: str, container: str) -> float:
    """The Allocate the agent makes for an ADD, from this process, then its Release; returns the
    Allocate's seconds."""
    attributes = {"cni.network": NETWORK, "cni.netns": f"/proc/{os.getpid()}/ns/net"}
    spec = AddressSpec(pool=pool, space=space)
    start = time.perf_counter()
    ipam.allocate(host, container, "eth0", [spec], attributes)
    elapsed = time.perf_counter() - start
    ipam.release_owner(container, "eth0")
    return elapsed


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def line(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    median = statistics.median(ordered) * 1000
    return f"{label:<24} median {median:7.2f} ms   p90 {percentile(ordered, 0.9):7.2f} ms   n={len(ordered)}"


def plugin_config(ipam: dict[str, Any]) -> dict[str, Any]:
    return {"cniVersion": "1.0.0", "name": NETWORK, "type": "bridge", "ipam": ipam}


def bench(args: argparse.Namespace, address: str, workdir: Path) -> None:
    tag = f"bench-cni-{secrets.token_hex(3)}"
    load_before = load()
    space, pool, host = tag, tag, tag
    installation = Path(args.ipam_cni) if args.ipam_cni else console_script("ipam-cni")
    ipam_cni, installed = install_launcher(installation, workdir / "bin", args.launcher)
    if args.python_launcher:
        python_launcher, _ = install_launcher(installation, workdir / "bin-python", "python")
    beside = ipam_cni.with_name(".ipam-cni-python")  # the native launcher's Python launcher
    python_file = beside if beside.is_file() else ipam_cni
    interpreter = python_file.read_text().splitlines()[0][2:].split()[0]
    ipam_agent = console_script("ipam-agent")
    data_dir = workdir / "host-local"
    with IpamClient(address, timeout=30) as ipam:
        ipam.create_address_space(space, "benchmarks/cni.py")
        ipam.create_pool(pool, "10.64.0.0/16", 24, space=space, cooldown_seconds=0)
        try:
            with contextlib.ExitStack() as stack:
                socket_path = stack.enter_context(agent(ipam_agent, address, host, workdir))
                ours = {"type": "ipam-cni", "pool": pool, "space": space, "agent_socket": socket_path}
                reference = {"type": "host-local", "ranges": [[{"subnet": "10.65.0.0/24"}]], "dataDir": str(data_dir)}
                plugins = [("ours", ipam_cni, plugin_config(ours)), ("ref", HOST_LOCAL, plugin_config(reference))]
                if args.python_launcher:
                    plugins.append(("pyl", python_launcher, plugin_config(ours)))
                if args.baseline:
                    base_agent, base_installation = (Path(path) for path in args.baseline)
                    base_dir = workdir / "baseline"
                    base_dir.mkdir()
                    base_plugin, _ = install_launcher(base_installation, base_dir / "bin")
                    base_socket = stack.enter_context(agent(base_agent, address, f"{host}-baseline", base_dir))
                    base = {**ours, "agent_socket": base_socket}
                    plugins.append(("base", base_plugin, plugin_config(base)))
                times: dict[str, list[float]] = {k: [] for k in SAMPLES}
                for i in range(args.warmup + args.iterations):
                    container = f"{tag}-{i:06d}"
                    sample = {}
                    turn = i % len(plugins)
                    for key, plugin, config in plugins[turn:] + plugins[:turn]:
                        sample[f"{key}-add"], result = run_plugin(plugin, "ADD", config, f"{container}-{key}")
                        deleting = {**config, "prevResult": json.loads(result)}
                        sample[f"{key}-del"], _ = run_plugin(plugin, "DEL", deleting, f"{container}-{key}")
                    sample["agent"] = agent_round_trip(socket_path, pool, space, f"{container}-direct")
                    sample["rpc"] = allocate_rpc(ipam, host, pool, space, f"{container}-rpc")
                    start = time.perf_counter()
                    subprocess.run([interpreter, "-I", "-S", "-c", "pass"], check=True)
                    sample["py"] = time.perf_counter() - start
                    if i >= args.warmup:
                        for key, value in sample.items():
                            times[key].append(value)
        finally:
            with contextlib.suppress(Exception):
                ipam.delete_pool(pool, force=True)
                ipam.delete_address_space(space)

    both = {k: [a + d for a, d in zip(times[f"{k}-add"], times[f"{k}-del"], strict=True)] for k in ("ours", "ref")}
    print(f"iterations={args.iterations} warmup={args.warmup} (each: ipam-cni ADD, DEL; host-local ADD, DEL)")
    print(f"ipam-cni: {installed} (by {installation} install)")
    print(line("ipam-cni ADD:", times["ours-add"]))
    print(line("host-local ADD:", times["ref-add"]))
    print(line("ipam-cni DEL:", times["ours-del"]))
    print(line("host-local DEL:", times["ref-del"]))
    print(line("ipam-cni ADD+DEL:", both["ours"]))
    print(line("host-local ADD+DEL:", both["ref"]))
    print(line("agent socket ADD:", times["agent"]))
    print(line("server Allocate RPC:", times["rpc"]))
    print(line("python -I -S -c pass:", times["py"]))
    ratio = statistics.median(times["ours-add"]) / statistics.median(times["ref-add"])
    verdict = "met" if ratio <= 4 else "NOT met"
    print(f"ratio ADD median ipam-cni/host-local: {ratio:5.2f}   (target <= 4: {verdict})")
    ratio_both = statistics.median(both["ours"]) / statistics.median(both["ref"])
    print(f"ratio ADD+DEL median ipam-cni/host-local: {ratio_both:5.2f}")
    if args.python_launcher:
        print(line("Python launcher ADD:", times["pyl-add"]))
        print(line("Python launcher DEL:", times["pyl-del"]))
        pyl_ratio = statistics.median(times["pyl-add"]) / statistics.median(times["ref-add"])
        print(f"ratio ADD median Python launcher/host-local: {pyl_ratio:5.2f}")
    if args.baseline:
        base_both = [a + d for a, d in zip(times["base-add"], times["base-del"], strict=True)]
        print(f"baseline: {args.baseline[0]}, launcher installed by {args.baseline[1]} install")
        print(line("baseline ipam-cni ADD:", times["base-add"]))
        print(line("baseline ipam-cni DEL:", times["base-del"]))
        base_ratio = statistics.median(times["base-add"]) / statistics.median(times["ref-add"])
        print(f"ratio ADD median baseline/host-local: {base_ratio:5.2f}")
        base_ratio_both = statistics.median(base_both) / statistics.median(both["ref"])
        print(f"ratio ADD+DEL median baseline/host-local: {base_ratio_both:5.2f}")
    print(f"load average (1, 5, 15 min): before {load_before}, after {load()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: an embedded PostgreSQL)")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument(
        "--ipam-cni",
        metavar="PATH",
        help="the ipam-cni console script to install the launcher from (default: this venv's)",
    )
    parser.add_argument(
        "--launcher",
        choices=("auto", "native", "python"),
        help="passed on to `ipam-cni install` (default: none given, i.e. its own default)",
    )
    parser.add_argument(
        "--python-launcher",
        action="store_true",
        help="also time the Python launcher (`ipam-cni install --launcher python`) through the same agent",
    )
    parser.add_argument(
        "--baseline",
        nargs=2,
        metavar=("AGENT", "IPAM_CNI"),
        help="the ipam-agent and ipam-cni console scripts of another installation, timed in the same run",
    )
    args = parser.parse_args()
    if not HOST_LOCAL.is_file():
        raise SystemExit(f"{HOST_LOCAL} is missing: apt-get install containernetworking-plugins")

    # Short: unix socket paths are limited to 107 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="ipam-"))
    try:
        with database(args.database_url) as url, ipam_server(url, free_port(), *QUIET_SERVER) as address:
            bench(args, address, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
