"""Running `ipam-cni` as a CNI runtime does, and a real `ipam-agent` for it (tests of the plugin)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ipam_client import IpamClient, pb

SUPPORTED = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
CNI_TIMEOUT = 60.0
AGENT_START_SECONDS = 30.0
CONTAINER = "c0ffee0123"
NETNS = "/var/run/netns/cni-test"


# --- running the plugin as a runtime does -----------------------------------------------------


class Run:
    """One execution of the plugin."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def json(self) -> dict[str, Any]:
        value = json.loads(self.stdout)
        assert isinstance(value, dict), self.stdout
        return value

    def error(self, code: int) -> dict[str, Any]:
        """The CNI error printed (asserting its code, exit status 1 and its shape)."""
        assert self.returncode == 1, self
        error = self.json()
        assert error["code"] == code, error
        assert set(error) <= {"cniVersion", "code", "msg", "details"}, error
        assert isinstance(error["msg"], str) and error["msg"], error
        assert error["cniVersion"] in SUPPORTED, error
        return error

    def ok(self) -> dict[str, Any] | None:
        assert self.returncode == 0, self
        return self.json() if self.stdout.strip() else None

    def __repr__(self) -> str:
        return f"exit {self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


def cni(
    command: str | None,
    config: dict[str, Any] | None = None,
    *,
    stdin: str | None = None,
    container_id: str | None = CONTAINER,
    netns: str | None = NETNS,
    ifname: str | None = "eth0",
    cni_args: str | None = None,
    cni_path: str | None = "/opt/cni/bin",
    argv: list[str] | None = None,
) -> Run:
    """Run the plugin with the CNI_* variables given (None: unset) and `config` (or raw `stdin`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    for key, value in (
        ("CNI_COMMAND", command),
        ("CNI_CONTAINERID", container_id),
        ("CNI_NETNS", netns),
        ("CNI_IFNAME", ifname),
        ("CNI_ARGS", cni_args),
        ("CNI_PATH", cni_path),
    ):
        if value is not None:
            env[key] = value
    proc = subprocess.run(
        argv or [sys.executable, "-m", "ipam_cni.plugin"],
        input=stdin if stdin is not None else json.dumps(config),
        env=env,
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=False,
    )
    run = Run(proc)
    assert "Traceback" not in run.stderr, run
    return run


def netconf(version: str = "1.0.0", socket_path: str = "/nonexistent/agent.sock", **ipam: Any) -> dict[str, Any]:
    """A bridge network config delegating to ipam-cni."""
    section: dict[str, Any] = {"type": "ipam-cni", "pool": "p4", "agent_socket": socket_path, **ipam}
    return {"cniVersion": version, "name": "testnet", "type": "bridge", "bridge": "cni0", "ipam": section}


def short_dir() -> Path:
    """A directory for unix sockets (their path must stay under ~108 bytes)."""
    return Path(tempfile.mkdtemp(prefix="cni-"))


class Agent:
    def __init__(self, process: subprocess.Popen[bytes], socket_path: str, log_path: Path) -> None:
        self.process = process
        self.socket = socket_path
        self.log_path = log_path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def running_agent(server: str, client: IpamClient) -> Iterator[Agent]:
    """`ipam-agent --host node-1` for `server`, with pools "cni4" and "cni6"."""
    client.create_pool("cni4", "10.77.0.0/16", 24)
    client.create_pool("cni6", "fd77::/48", 64)
    directory = short_dir()
    socket_path = str(directory / "agent.sock")
    log_path = directory / "agent.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ipam_agent.main", "--host", "node-1", "--socket", socket_path, "--server", server],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started = Agent(process, socket_path, log_path)
    deadline = time.monotonic() + AGENT_START_SECONDS
    while not os.path.exists(socket_path):
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.05)
    try:
        yield started
    finally:
        started.stop()
        shutil.rmtree(directory, ignore_errors=True)


def active(client: IpamClient, **filters: str) -> list[pb.Lease]:
    return client.list_leases(state=pb.LEASE_STATE_ACTIVE, **filters)  # type: ignore[arg-type]


def e2e_conf(agent: Agent, version: str = "1.0.0", **ipam: Any) -> dict[str, Any]:
    conf = netconf(version, agent.socket, **ipam)
    conf["ipam"]["pool"] = "cni4"
    return conf
