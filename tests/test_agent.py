"""`ipam agent` as a real process on a real unix socket, driven with the ipam-cni wire protocol.

Each test starts the agent as a subprocess against a real server (in this process) and sends it
requests with `ipam_cni.protocol.request`, as the shim does.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from processes import free_port
from sqlalchemy import Engine, text

from ipam.devca import DevCa
from ipam_agent.main import build_parser
from ipam_client import IpamClient
from ipam_cni.protocol import new_request, request

START_SECONDS = 20.0


@dataclass
class Agent:
    socket: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def send(self, command: str, **fields: Any) -> dict[str, Any]:
        return request(self.socket, new_request(command, **{"network": "net1", **fields}))

    def add(self, container: str, pools: list[str], ifname: str = "eth0", **fields: Any) -> dict[str, Any]:
        return self.send("ADD", container_id=container, ifname=ifname, pools=pools, **fields)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


AgentFactory = Callable[..., Agent]


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for sockets (unix socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="ipam-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def agent_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ipam_agent.main", *args]


@pytest.fixture
def start_agent(socket_dir: Path, tmp_path: Path) -> Iterator[AgentFactory]:
    """`start_agent(server, host="node-1", *extra) -> Agent`, waiting until its socket answers;
    stopped with SIGTERM at the end, which must exit 0 and remove the socket."""
    started: list[Agent] = []

    def start(server: str, host: str = "node-1", *extra: str, command: list[str] | None = None) -> Agent:
        path = str(socket_dir / f"agent-{len(started)}.sock")
        log_path = tmp_path / f"agent-{len(started)}.log"
        args = ["--host", host, "--socket", path, "--server", server, "--heartbeat", "0.5", *extra]
        env = {k: v for k, v in os.environ.items() if k not in ("IPAM_SERVER", "IPAM_TOKEN")}
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                (command or agent_command())[:] + args, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        agent = Agent(path, process, log_path)
        started.append(agent)
        wait_for_socket(agent)
        return agent

    yield start
    for agent in started:
        running = agent.process.poll() is None
        code = agent.stop()
        if running:
            assert code == 0, agent.output()
            assert not os.path.exists(agent.socket), "the agent left its socket behind"


def wait_for_socket(agent: Agent) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if agent.process.poll() is not None:
            raise RuntimeError(f"the agent exited with {agent.process.returncode}:\n{agent.output()}")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(agent.socket)
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the agent did not listen within {START_SECONDS}s:\n{agent.output()}")
        time.sleep(0.05)


def wait_for(check: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


@pytest.fixture
def pools(client: IpamClient) -> None:
    client.create_pool("v4", "10.10.0.0/16", 24)
    client.create_pool("v6", "fd00:10::/48", 64)


def active_leases(engine: Engine, owner: str) -> list[tuple[str, str, dict[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT host(address), interface, attributes FROM lease WHERE owner_id = :o AND state = 'active'"),
            {"o": owner},
        )
        return sorted((row[0], row[1], row[2]) for row in rows)


# --- ADD ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_add_allocates_records_attributes_and_repeats_the_same_lease(
    server: str, start_agent: AgentFactory, client: IpamClient, engine: Engine
) -> None:
    agent = start_agent(server, "node-1", "--label", "zone=a")
    attributes = {"K8S_POD_NAMESPACE": "default", "K8S_POD_NAME": "web-0"}
    first = agent.add("c1", ["v4"], attributes=attributes)
    assert first["ok"] is True, first
    assert first["already"] is False
    [ip] = first["ips"]
    assert ip["family"] == 4 and ip["address"].startswith("10.10.") and ip["address"].endswith("/24")
    assert ip["gateway"] and ip["gateway"].startswith("10.10.")

    again = agent.add("c1", ["v4"], attributes=attributes)
    assert again["ok"] is True and again["already"] is True
    assert again["ips"] == first["ips"]

    [(address, interface, attrs)] = active_leases(engine, "c1")
    assert f"{address}/24" == ip["address"] and interface == "eth0"
    assert attrs == {**attributes, "cni.network": "net1"}
    host = client.get_host("node-1")
    assert dict(host.labels) == {"zone": "a"}
    assert host.heartbeat_ttl_seconds == 2  # three heartbeats of 0.5 s, rounded up to whole seconds


def test_heartbeat_ttl_option(server: str, start_agent: AgentFactory, client: IpamClient) -> None:
    start_agent(server, "node-9", "--heartbeat-ttl", "45")
    # The agent registers from its heartbeat thread, possibly just after its socket is up.
    deadline = time.monotonic() + 10
    while not client.list_hosts() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get_host("node-9").heartbeat_ttl_seconds == 45


@pytest.mark.usefixtures("pools")
def test_add_dual_stack_gives_one_address_per_family(server: str, start_agent: AgentFactory, engine: Engine) -> None:
    agent = start_agent(server)
    reply = agent.add("c1", ["v4", "v6"])
    assert reply["ok"] is True, reply
    assert [ip["family"] for ip in reply["ips"]] == [4, 6]
    assert reply["ips"][1]["address"].startswith("fd00:10:") and reply["ips"][1]["address"].endswith("/64")
    assert len(active_leases(engine, "c1")) == 2


@pytest.mark.usefixtures("pools")
def test_add_specific_addresses_go_to_the_pool_of_their_family(server: str, start_agent: AgentFactory) -> None:
    agent = start_agent(server)
    reply = agent.add("c1", ["v4", "v6"], addresses=["fd00:10::77", "10.10.0.42"])
    assert reply["ok"] is True, reply
    assert [ip["address"] for ip in reply["ips"]] == ["10.10.0.42/24", "fd00:10::77/64"]

    taken = agent.add("c2", ["v4"], addresses=["10.10.0.42"])
    assert taken["ok"] is False and taken["code"] == 100
    assert "10.10.0.42" in taken["msg"] and "already held" in taken["msg"]

    outside = agent.add("c3", ["v4"], addresses=["192.168.1.1"])
    assert outside["ok"] is False and outside["code"] == 100
    assert "outside pool" in outside["msg"]

    no_family = agent.add("c4", ["v4"], addresses=["fd00:10::5"])
    assert no_family["code"] == 100 and "no IPv6 pool" in no_family["msg"]

    bad = agent.add("c5", ["v4"], addresses=["not-an-ip"])
    assert bad["code"] == 7 and "not-an-ip" in bad["msg"]


@pytest.mark.usefixtures("pools")
def test_add_with_an_unknown_pool_is_a_config_error_naming_it(server: str, start_agent: AgentFactory) -> None:
    agent = start_agent(server)
    reply = agent.add("c1", ["nope"])
    assert reply["ok"] is False and reply["code"] == 7
    assert '"nope"' in reply["msg"]


def test_add_until_the_pool_is_exhausted_then_status_is_50(
    server: str, start_agent: AgentFactory, client: IpamClient
) -> None:
    client.create_pool("tiny", "10.20.0.0/29", 29)
    agent = start_agent(server)
    assert agent.send("STATUS", pools=["tiny"]) == {"ok": True}
    replies = [agent.add(f"c{i}", ["tiny"]) for i in range(10)]
    assert replies[0]["ok"] is True
    refused = [r for r in replies if not r["ok"]]
    assert refused and all(r["code"] == 101 for r in refused), refused

    status = agent.send("STATUS", pools=["tiny"])
    assert status["ok"] is False and status["code"] == 50
    assert '"tiny"' in status["msg"] and "no free address" in status["msg"]
    unknown = agent.send("STATUS", pools=["nope"])
    assert unknown["code"] == 50 and '"nope"' in unknown["msg"]


@pytest.mark.usefixtures("pools")
def test_concurrent_adds_get_different_addresses(server: str, start_agent: AgentFactory) -> None:
    agent = start_agent(server)
    replies: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda i=i: replies.append(agent.add(f"c{i}", ["v4"]))) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r["ok"] for r in replies), replies
    assert len({r["ips"][0]["address"] for r in replies}) == 16


# --- DEL, CHECK, GC -----------------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_del_releases_and_is_idempotent(server: str, start_agent: AgentFactory, engine: Engine) -> None:
    agent = start_agent(server)
    assert agent.add("c1", ["v4", "v6"])["ok"]
    assert agent.send("DEL", container_id="c1", ifname="eth0") == {"ok": True}
    assert active_leases(engine, "c1") == []
    assert agent.send("DEL", container_id="c1", ifname="eth0") == {"ok": True}
    assert agent.send("DEL", container_id="never", ifname="eth0") == {"ok": True}


@pytest.mark.usefixtures("pools")
def test_check_compares_the_leases_with_prev_result(server: str, start_agent: AgentFactory) -> None:
    agent = start_agent(server)
    added = agent.add("c1", ["v4", "v6"])
    prev = [ip["address"] for ip in added["ips"]]
    owner = {"container_id": "c1", "ifname": "eth0"}

    assert agent.send("CHECK", prev_addresses=list(reversed(prev)), **owner)["ok"] is True

    differs = agent.send("CHECK", prev_addresses=[prev[0], "fd00:10::9999/64"], **owner)
    assert differs["ok"] is False and differs["code"] == 100
    assert "fd00:10::9999/64" in differs["msg"] and prev[1] in differs["msg"]

    partial = agent.send("CHECK", prev_addresses=prev[:1], **owner)
    assert partial["code"] == 100

    agent.send("DEL", **owner)
    gone = agent.send("CHECK", prev_addresses=prev, **owner)
    assert gone["ok"] is False and gone["code"] == 3 and "c1" in gone["msg"]


@pytest.mark.usefixtures("pools")
def test_gc_releases_this_hosts_leases_of_the_network_not_listed(
    server: str, start_agent: AgentFactory, engine: Engine, client: IpamClient
) -> None:
    agent = start_agent(server, "node-1")
    other_host = start_agent(server, "node-2")
    for container in ("keep", "stale-1", "stale-2"):
        assert agent.add(container, ["v4", "v6"])["ok"]
    assert agent.add("keep", ["v4"], ifname="eth1")["ok"]  # another attachment of a listed container
    assert agent.add("other-net", ["v4"], network="net2")["ok"]
    assert other_host.add("elsewhere", ["v4"])["ok"]

    reply = agent.send("GC", valid_attachments=[{"container_id": "keep", "ifname": "eth0"}])
    assert reply == {"ok": True, "released": 5, "errors": []}

    assert [ifname for _, ifname, _ in active_leases(engine, "keep")] == ["eth0", "eth0"]  # eth1 was not listed
    assert active_leases(engine, "stale-1") == active_leases(engine, "stale-2") == []
    assert len(active_leases(engine, "other-net")) == 1
    assert len(active_leases(engine, "elsewhere")) == 1
    again = agent.send("GC", valid_attachments=[{"container_id": "keep", "ifname": "eth0"}])
    assert again == {"ok": True, "released": 0, "errors": []}
    recorded = [(r.item.owner_id, r.item.interface, r.detail) for r in client.iter_gc_records()]
    assert len(recorded) == 5 and ("stale-1", "eth0", "CNI GC of network net1") in recorded


# --- the server going away ----------------------------------------------------------------------


@pytest.mark.usefixtures("pools")
def test_server_down_gives_try_again_later_and_the_agent_recovers(
    server: str, engine: Engine, start_agent: AgentFactory
) -> None:
    from ipam.server.app import create_server

    own, port = create_server(engine, "127.0.0.1:0")
    address = f"127.0.0.1:{port}"
    agent = start_agent(address)
    assert agent.add("c1", ["v4"])["ok"]

    own.stop(grace=1).wait()
    down = agent.add("c2", ["v4"])
    assert down["ok"] is False and down["code"] == 11, down
    assert address in down["msg"]
    assert agent.send("STATUS", pools=["v4"])["code"] == 50
    assert agent.send("DEL", container_id="c1", ifname="eth0")["code"] == 11
    assert agent.process.poll() is None

    again, _ = create_server(engine, address)
    try:
        wait_for(lambda: agent.add("c2", ["v4"])["ok"])
        assert agent.send("STATUS", pools=["v4"]) == {"ok": True}
        assert agent.add("c1", ["v4"])["already"] is True
    finally:
        again.stop(grace=1).wait()
    assert "registering host 'node-1' failed" in agent.output()


@pytest.mark.usefixtures("pools")
def test_agent_started_before_the_server_serves_once_it_listens(engine: Engine, start_agent: AgentFactory) -> None:
    from ipam.server.app import create_server

    address = f"127.0.0.1:{free_port()}"
    agent = start_agent(address, "late-host")
    down = agent.add("c1", ["v4"])
    assert down["code"] == 11 and address in down["msg"]

    late, _ = create_server(engine, address)
    try:
        wait_for(lambda: agent.add("c1", ["v4"])["ok"])
        with IpamClient(address, retries=0) as ipam:
            assert ipam.get_host("late-host").name == "late-host"
    finally:
        late.stop(grace=1).wait()


# --- bad requests, start-up errors, the `ipam agent` command ------------------------------------


def test_bad_requests_get_a_failure_and_the_agent_keeps_running(server: str, start_agent: AgentFactory) -> None:
    agent = start_agent(server)
    unknown = agent.send("FROB")
    assert unknown["ok"] is False and unknown["code"] == 4 and "FROB" in unknown["msg"]
    missing = agent.send("ADD", pools=["v4"])
    assert missing["code"] == 4 and "container_id" in missing["msg"]
    wrong_type = agent.send("ADD", container_id="c1", ifname="eth0", pools="v4")
    assert wrong_type["code"] == 7 and "pools" in wrong_type["msg"]

    for raw in (b"{not json\n", b"[1, 2]\n", b"\xff\xfe\n", b"\n"):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(agent.socket)
            sock.sendall(raw)
            reply = sock.makefile("rb").readline()
        assert b'"ok": false' in reply and b'"code": 6' in reply, (raw, reply)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(agent.socket)  # and hang up without a word

    assert agent.process.poll() is None
    status = agent.send("STATUS")  # no pool at all in the default space
    assert status["code"] == 50 and 'address space "default" has no enabled pool' in status["msg"]


def test_start_errors_are_one_line(server: str, socket_dir: Path, start_agent: AgentFactory) -> None:
    (socket_dir / "file").write_text("")
    not_dir = subprocess.run(
        agent_command("--host", "n", "--socket", str(socket_dir / "file" / "agent.sock"), "--server", server),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert not_dir.returncode == 1
    assert not_dir.stderr.strip().splitlines() == [
        f"ipam-agent: error: cannot create {socket_dir / 'file'}: a file of that name exists"
    ]

    bad_args = subprocess.run(agent_command("--socket", "/tmp/x.sock"), capture_output=True, text=True, timeout=30)
    assert bad_args.returncode == 2 and "--host" in bad_args.stderr and "Traceback" not in bad_args.stderr

    running = start_agent(server)
    twice = subprocess.run(
        agent_command("--host", "n", "--socket", running.socket, "--server", server),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert twice.returncode == 1
    assert twice.stderr.strip() == f"ipam-agent: error: another agent is already serving {running.socket}"

    regular = socket_dir / "regular"
    regular.write_text("keep me")
    clash = subprocess.run(
        agent_command("--host", "n", "--socket", str(regular), "--server", server), capture_output=True, text=True
    )
    assert clash.returncode == 1 and "is not a socket" in clash.stderr and regular.read_text() == "keep me"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("", "unix:///var/run/docker.sock"),
        ("unix:///run/user/0/docker.sock", "unix:///run/user/0/docker.sock"),
        ("tcp://10.0.0.1:2376", "unix:///var/run/docker.sock"),  # the agent talks to its own host's dockerd
    ],
)
def test_docker_reconciliation_options(monkeypatch: pytest.MonkeyPatch, env: str, expected: str) -> None:
    monkeypatch.setenv("DOCKER_HOST", env)
    args = build_parser().parse_args(["--host", "n"])
    assert (args.docker_host, args.docker_reconcile_interval) == (expected, 300.0)
    args = build_parser().parse_args(
        ["--host", "n", "--docker-host", "unix:///d.sock", "--docker-reconcile-interval", "0"]
    )
    assert (args.docker_host, args.docker_reconcile_interval) == ("unix:///d.sock", 0.0)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--docker-host", "tcp://10.0.0.1:2376", "expected unix:///path/to/docker.sock, got 'tcp://10.0.0.1:2376'"),
        ("--docker-host", "unix://docker.sock", "expected unix:///path/to/docker.sock"),
        ("--docker-reconcile-interval", "-1", "expected a number of seconds, 0 or more, got '-1'"),
        ("--docker-reconcile-interval", "soon", "expected a number of seconds, 0 or more, got 'soon'"),
    ],
)
def test_bad_docker_reconciliation_options_exit_2(
    capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--host", "n", option, value])
    assert exited.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


def test_a_stale_socket_is_replaced_and_the_socket_mode_is_0660(
    server: str, socket_dir: Path, start_agent: AgentFactory
) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_dir / "agent-0.sock"))  # the path start_agent gives its first agent
    stale.close()  # the file stays: a dead agent's socket
    agent = start_agent(server)
    assert agent.send("DEL", container_id="c", ifname="eth0") == {"ok": True}
    assert os.stat(agent.socket).st_mode & 0o777 == 0o660
    assert "removed stale socket" in agent.output()


@pytest.mark.usefixtures("pools")
def test_ipam_agent_subcommand_runs_the_agent(server: str, start_agent: AgentFactory, client: IpamClient) -> None:
    agent = start_agent(server, "cli-host", "--label", "rack=7", command=[sys.executable, "-m", "ipam", "agent"])
    assert agent.add("c1", ["v4"])["ok"]
    assert dict(client.get_host("cli-host").labels) == {"rack": "7"}
    seen = client.get_host("cli-host").last_seen_time.ToDatetime()
    wait_for(lambda: client.get_host("cli-host").last_seen_time.ToDatetime() > seen)  # heartbeats every 0.5 s


# --- auth and TLS ---------------------------------------------------------------------------------


def test_an_agent_with_an_agent_token_file_over_mutual_tls(
    engine: Engine, start_agent: AgentFactory, new_token: Callable[..., str], dev_ca: DevCa, tmp_path: Path
) -> None:
    from conftest import in_process_server

    from ipam.server.app import ServerOptions
    from ipam.server.tls import ServerTls

    tls = {"ca_file": dev_ca.ca_cert, "cert_file": dev_ca.client_cert, "key_file": dev_ca.client_key}
    options = ServerOptions(auth=True, tls=ServerTls(dev_ca.server_cert, dev_ca.server_key, dev_ca.ca_cert))
    with in_process_server(engine, options) as address:
        with IpamClient(address, new_token("admin"), retries=0, **tls) as admin:  # type: ignore[arg-type]
            admin.create_pool("v4", "10.10.0.0/16", 24)
            admin.register_host("node-2")
        token_file = tmp_path / "agent.token"
        token = new_token("agent", "node-1")
        token_file.write_text(token + "\n")
        tls_args = [f"--{option.replace('_', '-')}={path}" for option, path in tls.items()]
        agent = start_agent(address, "node-1", "--token-file", str(token_file), *tls_args)
        reply = agent.add("c1", ["v4"])
        assert reply["ok"] is True, reply
        assert [lease[1] for lease in active_leases(engine, "c1")] == ["eth0"]
        assert agent.send("DEL", container_id="c1", ifname="eth0")["ok"] is True
        assert active_leases(engine, "c1") == []
        code = agent.stop()
        assert code == 0, agent.output()
    assert token not in agent.output()


def test_an_agent_whose_token_file_is_missing_says_so(tmp_path: Path, socket_dir: Path) -> None:
    missing = tmp_path / "agent.token"
    done = subprocess.run(
        [*agent_command("--host", "n1", "--socket", str(socket_dir / "a.sock"), "--token-file", str(missing))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"ipam-agent: error: {missing}: No such file or directory"
