"""`ipam-cni`, run exactly as a CNI runtime runs it: a subprocess with the CNI_* environment and the
network config on stdin, the result or a CNI error as JSON on stdout.

The first part needs no server: bad input of every kind, VERSION, and the encoding of results,
with a fake agent (a thread serving the agent's unix socket with canned answers and recording each
request). The second part runs a real `ipam-agent` process against the in-process server and
goes through ADD, DEL, CHECK, GC and STATUS end to end, and the server mode without an agent.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cni_support import (
    CNI_TIMEOUT,
    CONTAINER,
    NETNS,
    SUPPORTED,
    Agent,
    active,
    cni,
    e2e_conf,
    netconf,
    running_agent,
    short_dir,
)

from ipam_client import IpamClient

# --- a fake agent ------------------------------------------------------------------------------


class FakeAgent:
    """Serves the agent's socket: records each request and answers with `respond(request)`."""

    def __init__(self, respond: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        self.directory = short_dir()
        self.path = str(self.directory / "agent.sock")
        self.requests: list[dict[str, Any]] = []
        agent = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request = json.loads(self.rfile.readline())
                agent.requests.append(request)
                answer = respond(request)
                if answer is not None:
                    self.wfile.write(json.dumps(answer).encode() + b"\n")

        self.server = socketserver.ThreadingUnixStreamServer(self.path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)


ADD_DUAL = {
    "ok": True,
    "ips": [
        {"address": "10.1.0.5/24", "gateway": "10.1.0.1", "family": 4},
        {"address": "fd00:1::5/64", "gateway": None, "family": 6},
    ],
    "already": False,
}


@pytest.fixture
def fake_agent() -> Iterator[Callable[..., FakeAgent]]:
    started: list[FakeAgent] = []

    def start(respond: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None) -> FakeAgent:
        started.append(
            FakeAgent(respond or (lambda request: ADD_DUAL if request["command"] == "ADD" else {"ok": True}))
        )
        return started[-1]

    yield start
    for agent in started:
        agent.close()


# --- environment: code 4 naming the variables --------------------------------------------------


@pytest.mark.parametrize(
    ("command", "unset", "missing"),
    [
        ("ADD", ["container_id", "netns", "ifname", "cni_path"], "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
        ("ADD", ["netns"], "CNI_NETNS"),
        ("CHECK", ["ifname"], "CNI_IFNAME"),
        ("DEL", ["container_id", "cni_path"], "CNI_CONTAINERID,CNI_PATH"),
        ("GC", ["cni_path"], "CNI_PATH"),
        ("STATUS", ["cni_path"], "CNI_PATH"),
    ],
)
def test_missing_environment_is_code_4_naming_the_variables(command: str, unset: list[str], missing: str) -> None:
    run = cni(command, netconf("1.1.0"), **dict.fromkeys(unset))
    error = run.error(4)
    assert f"[{missing}]" in error["msg"]


def test_missing_command_is_code_4() -> None:
    assert "CNI_COMMAND" in cni(None, netconf()).error(4)["msg"]


def test_unknown_command_is_code_4() -> None:
    assert "CNI_COMMAND" in cni("FROB", netconf()).error(4)["msg"]


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"ifname": "an-interface-name-too-long"}, "CNI_IFNAME"),
        ({"ifname": "eth/0"}, "CNI_IFNAME"),
        ({"container_id": "-bad id!"}, "CNI_CONTAINERID"),
        ({"cni_args": "IgnoreUnknown=1;K8S_POD_NAME"}, "CNI_ARGS"),
    ],
)
def test_invalid_environment_is_code_4_naming_the_variable(overrides: dict[str, str], name: str) -> None:
    error = cni("ADD", netconf(), **overrides).error(4)  # type: ignore[arg-type]
    assert name in error["msg"]
    assert name in error["details"]


def test_del_needs_no_netns_and_gc_status_no_container(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    assert cni("DEL", netconf(socket_path=agent.path), netns=None).ok() is None
    gc = netconf("1.1.0", agent.path, **{})
    gc["cni.dev/valid-attachments"] = []
    assert cni("GC", gc, container_id=None, netns=None, ifname=None).ok() is None
    assert cni("STATUS", netconf("1.1.0", agent.path), container_id=None, netns=None, ifname=None).ok() is None
    assert [r["command"] for r in agent.requests] == ["DEL", "GC", "STATUS"]
    assert agent.requests[1]["container_id"] == "" and agent.requests[1]["ifname"] == ""


# --- stdin: code 6; versions: code 1 -----------------------------------------------------------


@pytest.mark.parametrize("stdin", ["", "{not json", '["a list"]', '"a string"', "\xff"])
@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_unparsable_stdin_is_code_6(command: str, stdin: str) -> None:
    cni(command, stdin=stdin).error(6)


def test_cni_version_not_a_string_is_code_6() -> None:
    conf = netconf()
    conf["cniVersion"] = 1
    cni("ADD", conf).error(6)


@pytest.mark.parametrize("version", ["0.1.0", "0.2.0", "1.2.0", "2.0.0", "banana", None])
def test_unsupported_cni_version_is_code_1(version: str | None) -> None:
    conf = netconf()
    if version is None:
        del conf["cniVersion"]  # libcni reads a missing version as 0.1.0
    else:
        conf["cniVersion"] = version
    error = cni("ADD", conf).error(1)
    assert "1.1.0" in error["details"]


@pytest.mark.parametrize(("command", "version"), [("CHECK", "0.3.1"), ("GC", "1.0.0"), ("STATUS", "0.4.0")])
def test_command_newer_than_the_config_version_is_code_1(command: str, version: str) -> None:
    conf = netconf(version)
    conf["prevResult"] = {"cniVersion": version, "ips": []}
    conf["cni.dev/valid-attachments"] = []
    error = cni(command, conf).error(1)
    assert command in error["msg"]
    assert error["cniVersion"] == version


# --- VERSION ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", SUPPORTED)
def test_version_answers_in_the_requested_version(version: str) -> None:
    run = cni("VERSION", {"cniVersion": version}, container_id=None, netns=None, ifname=None, cni_path=None)
    assert run.ok() == {"cniVersion": version, "supportedVersions": SUPPORTED}


@pytest.mark.parametrize("stdin", ["", "{}", "junk"])
def test_version_without_a_requested_version_answers_in_the_latest(stdin: str) -> None:
    run = cni("VERSION", stdin=stdin, container_id=None, netns=None, ifname=None, cni_path=None)
    assert run.ok() == {"cniVersion": "1.1.0", "supportedVersions": SUPPORTED}


def test_version_through_the_console_script() -> None:
    script = Path(sys.executable).with_name("ipam-cni")
    run = cni("VERSION", {"cniVersion": "1.0.0"}, argv=[str(script)])
    assert run.ok() == {"cniVersion": "1.0.0", "supportedVersions": SUPPORTED}


# --- invalid network config: code 7 naming the key ------------------------------------------------


def _with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    conf = netconf()
    change(conf)
    return conf


BAD_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown key", _with(lambda c: c["ipam"].update(subnet="10.0.0.0/24")), "ipam.subnet"),
    ("pool not a string", _with(lambda c: c["ipam"].update(pool=4)), "ipam.pool"),
    ("pool empty", _with(lambda c: c["ipam"].update(pool="")), "ipam.pool"),
    ("pools not a list", _with(lambda c: (c["ipam"].pop("pool"), c["ipam"].update(pools="p4"))), "ipam.pools"),
    ("pools not strings", _with(lambda c: (c["ipam"].pop("pool"), c["ipam"].update(pools=["p4", 6]))), "ipam.pools[1]"),
    ("pool and pools", _with(lambda c: c["ipam"].update(pools=["p4"])), "ipam.pools"),
    ("space not a string", _with(lambda c: c["ipam"].update(space=["x"])), "ipam.space"),
    ("type not a string", _with(lambda c: c["ipam"].update(type=1)), "ipam.type"),
    ("agent_socket", _with(lambda c: c["ipam"].update(agent_socket=7)), "ipam.agent_socket"),
    ("server", _with(lambda c: c["ipam"].update(server="no-port")), "ipam.server"),
    ("single_subnet", _with(lambda c: c["ipam"].update(single_subnet="yes")), "ipam.single_subnet"),
    ("routes not a list", _with(lambda c: c["ipam"].update(routes={"dst": "0.0.0.0/0"})), "ipam.routes"),
    ("route bad CIDR", _with(lambda c: c["ipam"].update(routes=[{"dst": "10.0.0.0/33"}])), "ipam.routes[0].dst"),
    ("route bare IP", _with(lambda c: c["ipam"].update(routes=[{"dst": "10.0.0.0"}])), "ipam.routes[0].dst"),
    ("route no dst", _with(lambda c: c["ipam"].update(routes=[{"gw": "10.0.0.1"}])), "ipam.routes[0].dst"),
    ("route bad gw", _with(lambda c: c["ipam"].update(routes=[{"dst": "0.0.0.0/0", "gw": "x"}])), "ipam.routes[0].gw"),
    (
        "route gw family",
        _with(lambda c: c["ipam"].update(routes=[{"dst": "0.0.0.0/0", "gw": "fd00::1"}])),
        "ipam.routes[0].gw",
    ),
    ("route unknown key", _with(lambda c: c["ipam"].update(routes=[{"dst": "::/0", "via": 1}])), "ipam.routes[0].via"),
    ("route mtu", _with(lambda c: c["ipam"].update(routes=[{"dst": "::/0", "mtu": "1500"}])), "ipam.routes[0].mtu"),
    ("dns not an object", _with(lambda c: c["ipam"].update(dns=["10.0.0.1"])), "ipam.dns"),
    ("dns bad server", _with(lambda c: c["ipam"].update(dns={"nameservers": ["dns"]})), "ipam.dns.nameservers[0]"),
    ("dns unknown key", _with(lambda c: c["ipam"].update(dns={"servers": []})), "ipam.dns.servers"),
    ("dns search", _with(lambda c: c["ipam"].update(dns={"search": "a.b"})), "ipam.dns.search"),
    ("no ipam", _with(lambda c: c.pop("ipam")), "ipam"),
    ("ipam not an object", _with(lambda c: c.update(ipam="ipam-cni")), "ipam"),
    ("no name", _with(lambda c: c.pop("name")), "name"),
    ("bad name", _with(lambda c: c.update(name="bad name")), "name"),
    ("runtimeConfig.ips", _with(lambda c: c.update(runtimeConfig={"ips": ["10.0.0.300/24"]})), "runtimeConfig.ips[0]"),
    ("runtimeConfig.ips list", _with(lambda c: c.update(runtimeConfig={"ips": "10.0.0.3"})), "runtimeConfig.ips"),
    ("args.cni.ips", _with(lambda c: c.update(args={"cni": {"ips": ["10.0.0.3", "nope"]}})), "args.cni.ips[1]"),
]


@pytest.mark.parametrize(
    ("conf", "key"), [(conf, key) for _, conf, key in BAD_CONFIGS], ids=[b[0] for b in BAD_CONFIGS]
)
def test_invalid_config_is_code_7_naming_the_key(conf: dict[str, Any], key: str) -> None:
    error = cni("ADD", conf).error(7)
    assert key in error["msg"] + error.get("details", "")


def test_bad_cni_args_ip_is_code_7() -> None:
    error = cni("ADD", netconf(), cni_args="IgnoreUnknown=1;IP=10.0.0.999").error(7)
    assert "CNI_ARGS IP" in error["msg"]


def test_check_without_prev_result_is_code_7() -> None:
    assert "prevResult" in cni("CHECK", netconf()).error(7)["details"]


def test_check_with_a_bad_prev_result_address_is_code_7() -> None:
    conf = netconf()
    conf["prevResult"] = {"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.5"}]}
    assert "prevResult.ips[0].address" in cni("CHECK", conf).error(7)["msg"]


@pytest.mark.parametrize(
    "attachments",
    [None, "c1", [{"containerID": "c1"}], [["c1", "eth0"]]],
    ids=["missing", "not a list", "no ifname", "not objects"],
)
def test_gc_with_bad_attachments_is_code_7(attachments: Any) -> None:
    conf = netconf("1.1.0")
    if attachments is not None:
        conf["cni.dev/valid-attachments"] = attachments
    error = cni("GC", conf, container_id=None, netns=None, ifname=None).error(7)
    assert "cni.dev/valid-attachments" in error["msg"] + error.get("details", "")


def test_invalid_config_fails_before_the_agent_is_asked(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    cni("ADD", netconf(socket_path=agent.path, pool=1)).error(7)
    assert agent.requests == []


# --- the agent unreachable or failing -------------------------------------------------------------


@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK"])
def test_agent_down_is_code_11_naming_the_socket(command: str) -> None:
    conf = netconf(socket_path="/nonexistent/agent.sock")
    conf["prevResult"] = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/24"}]}
    error = cni(command, conf).error(11)
    assert "/nonexistent/agent.sock" in error["msg"]
    assert "try again later" in error["msg"]


def test_agent_socket_refusing_connections_is_code_11() -> None:
    directory = short_dir()
    path = str(directory / "agent.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.close()  # the socket file stays, nobody listens: ECONNREFUSED
    try:
        error = cni("ADD", netconf(socket_path=path)).error(11)
        assert path in error["msg"]
        assert "ConnectionRefusedError" in error["details"]
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_agent_closing_without_an_answer_is_code_11(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent(lambda request: None)
    assert agent.path in cni("ADD", netconf(socket_path=agent.path)).error(11)["msg"]


def test_status_with_the_agent_down_is_code_50() -> None:
    conf = netconf("1.1.0", "/nonexistent/agent.sock")
    error = cni("STATUS", conf, container_id=None, netns=None, ifname=None).error(50)
    assert "/nonexistent/agent.sock" in error["msg"]


@pytest.mark.parametrize(("code", "command"), [(100, "ADD"), (101, "ADD"), (3, "CHECK"), (50, "STATUS"), (102, "DEL")])
def test_agent_failures_pass_through(fake_agent: Callable[..., FakeAgent], code: int, command: str) -> None:
    agent = fake_agent(lambda request: {"ok": False, "code": code, "msg": f"failed {code}", "details": "why"})
    conf = netconf("1.1.0", agent.path)
    conf["prevResult"] = {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/24"}]}
    error = cni(command, conf).error(code)
    assert error == {"cniVersion": "1.1.0", "code": code, "msg": f"failed {code}", "details": "why"}


def test_agent_answering_add_without_addresses_is_an_error_not_a_traceback(
    fake_agent: Callable[..., FakeAgent],
) -> None:
    agent = fake_agent(lambda request: {"ok": True})
    cni("ADD", netconf(socket_path=agent.path)).error(999)


def test_gc_errors_are_reported(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent(lambda request: {"ok": True, "released": 2, "errors": ["releasing c9 eth0: boom"]})
    conf = netconf("1.1.0", agent.path)
    conf["cni.dev/valid-attachments"] = []
    error = cni("GC", conf, container_id=None, netns=None, ifname=None).error(102)
    assert "released 2" in error["msg"]
    assert "boom" in error["details"]


# --- results in each version ----------------------------------------------------------------------

ROUTES = [{"dst": "0.0.0.0/0", "gw": "10.1.0.1", "mtu": 1400}, {"dst": "fd00:2::/64"}]
DNS = {"nameservers": ["10.1.0.53"], "domain": "cluster.local", "search": ["svc.cluster.local"], "options": ["ndots:5"]}


@pytest.mark.parametrize("version", ["0.3.0", "0.3.1", "0.4.0"])
def test_add_result_before_1_0_carries_the_ip_version(fake_agent: Callable[..., FakeAgent], version: str) -> None:
    agent = fake_agent()
    result = cni("ADD", netconf(version, agent.path, routes=ROUTES, dns=DNS)).ok()
    assert result == {
        "cniVersion": version,
        "ips": [
            {"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
            {"version": "6", "address": "fd00:1::5/64"},
        ],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}, {"dst": "fd00:2::/64"}],
        "dns": DNS,
    }


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_add_result_from_1_0(fake_agent: Callable[..., FakeAgent], version: str) -> None:
    agent = fake_agent()
    result = cni("ADD", netconf(version, agent.path, routes=ROUTES, dns=DNS)).ok()
    route = {"dst": "0.0.0.0/0", "gw": "10.1.0.1", **({"mtu": 1400} if version == "1.1.0" else {})}
    assert result == {
        "cniVersion": version,
        "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1"}, {"address": "fd00:1::5/64"}],
        "routes": [route, {"dst": "fd00:2::/64"}],
        "dns": DNS,
    }


def test_add_result_without_routes_or_dns(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    result = cni("ADD", netconf("1.0.0", agent.path)).ok()
    assert result is not None
    assert result["routes"] == [] and result["dns"] == {}


def test_del_check_gc_status_print_nothing(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    conf = netconf("1.1.0", agent.path)
    conf["prevResult"] = {"cniVersion": "1.1.0", "ips": [{"address": "10.1.0.5/24"}]}
    conf["cni.dev/valid-attachments"] = []
    for command in ("DEL", "CHECK", "GC", "STATUS"):
        run = cni(command, conf)
        assert run.returncode == 0 and run.stdout == "", (command, run)


# --- what reaches the agent ---------------------------------------------------------------------


def test_request_carries_every_protocol_key(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    cni(
        "ADD",
        netconf("1.0.0", agent.path, space="blue"),
        cni_args="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_UID=u-1;"
        "K8S_POD_INFRA_CONTAINER_ID=c0ffee0123;OTHER=x",
    ).ok()
    assert agent.requests == [
        {
            "command": "ADD",
            "container_id": CONTAINER,
            "ifname": "eth0",
            "netns": NETNS,
            "network": "testnet",
            "pools": ["p4"],
            "space": "blue",
            "addresses": [],
            "single_subnet": False,
            "attributes": {
                "K8S_POD_NAMESPACE": "default",
                "K8S_POD_NAME": "web-0",
                "K8S_POD_UID": "u-1",
                "K8S_POD_INFRA_CONTAINER_ID": "c0ffee0123",
            },
            "prev_addresses": [],
            "valid_attachments": [],
        }
    ]


@pytest.mark.parametrize(
    ("main", "ipam", "single"),
    [
        ({"isGateway": True}, {}, True),
        ({"isDefaultGateway": True}, {}, True),
        ({"isGateway": False}, {}, False),
        ({"type": "macvlan", "isGateway": True}, {}, False),
        ({"isGateway": True}, {"single_subnet": False}, False),
        ({"type": "ptp"}, {"single_subnet": True}, True),
    ],
)
def test_single_subnet_follows_a_gateway_bridge_unless_configured(
    fake_agent: Callable[..., FakeAgent], main: dict[str, Any], ipam: dict[str, Any], single: bool
) -> None:
    agent = fake_agent()
    conf = {**netconf("1.0.0", agent.path, **ipam), **main}
    cni("ADD", conf).ok()
    cni("DEL", conf).ok()
    assert [(r["command"], r["single_subnet"]) for r in agent.requests] == [("ADD", single), ("DEL", False)]


@pytest.mark.parametrize(
    ("change", "cni_args", "addresses"),
    [
        ({"runtimeConfig": {"ips": ["10.2.2.42/24"]}}, "", ["10.2.2.42"]),
        ({"args": {"cni": {"ips": ["10.2.2.43", "fd00::43"]}}}, "", ["10.2.2.43", "fd00::43"]),
        ({}, "IgnoreUnknown=1;IP=10.2.2.44", ["10.2.2.44"]),
        ({}, "IP=10.2.2.44,fd00::44", ["10.2.2.44", "fd00::44"]),
        ({"args": {"cni": {"ips": ["10.2.2.45"]}}}, "IP=10.2.2.44", ["10.2.2.45"]),
        ({"runtimeConfig": {"ips": ["10.2.2.46/24"]}, "args": {"cni": {"ips": ["10.2.2.46"]}}}, "", ["10.2.2.46"]),
    ],
    ids=["runtimeConfig", "args", "CNI_ARGS", "CNI_ARGS dual", "args over CNI_ARGS", "no duplicates"],
)
def test_requested_addresses(
    fake_agent: Callable[..., FakeAgent], change: dict[str, Any], cni_args: str, addresses: list[str]
) -> None:
    agent = fake_agent()
    conf = {**netconf(socket_path=agent.path), **change}
    cni("ADD", conf, cni_args=cni_args).ok()
    assert agent.requests[0]["addresses"] == addresses


def test_dual_stack_pools_and_check_prev_addresses(fake_agent: Callable[..., FakeAgent]) -> None:
    agent = fake_agent()
    conf = netconf("1.0.0", agent.path)
    del conf["ipam"]["pool"]
    conf["ipam"]["pools"] = ["p4", "p6"]
    conf["prevResult"] = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "sandbox": NETNS}],
        "ips": [{"address": "10.1.0.5/24", "interface": 0}, {"address": "fd00:1::5/64", "interface": 0}],
    }
    cni("CHECK", conf).ok()
    assert agent.requests[0]["pools"] == ["p4", "p6"]
    assert agent.requests[0]["prev_addresses"] == ["10.1.0.5/24", "fd00:1::5/64"]


@pytest.mark.parametrize("key", ["cni.dev/valid-attachments", "cni.dev/attachments"])
def test_gc_sends_the_valid_attachments(fake_agent: Callable[..., FakeAgent], key: str) -> None:
    agent = fake_agent()
    conf = netconf("1.1.0", agent.path)
    conf[key] = [{"containerID": "c1", "ifname": "eth0"}, {"containerID": "c2", "ifname": "net1"}]
    cni("GC", conf, container_id=None, netns=None, ifname=None).ok()
    assert agent.requests[0]["command"] == "GC"
    assert agent.requests[0]["valid_attachments"] == [
        {"container_id": "c1", "ifname": "eth0"},
        {"container_id": "c2", "ifname": "net1"},
    ]


def test_del_ignores_bad_requested_addresses(fake_agent: Callable[..., FakeAgent]) -> None:
    """DEL must not fail on what only ADD uses."""
    agent = fake_agent()
    cni("DEL", netconf(socket_path=agent.path), cni_args="IP=junk").ok()
    assert agent.requests[0]["addresses"] == []


# --- light: no grpc on the normal path ----------------------------------------------------------


def test_the_plugin_does_not_import_grpc() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env["CNI_COMMAND"] = "VERSION"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ipam_cni.plugin"],
        input='{"cniVersion": "1.0.0"}',
        env=env,
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "ipam_cni.plugin" in imported or "ipam_cni.config" in imported, proc.stderr
    heavy = [name for name in imported if name.split(".")[0] in ("grpc", "google", "sqlalchemy", "ipam_client")]
    assert heavy == [], heavy


# --- end to end: a real ipam-agent and the in-process server -------------------------------------


@pytest.fixture
def agent(server: str, client: IpamClient) -> Iterator[Agent]:
    with running_agent(server, client) as started:
        yield started


def test_e2e_add_del(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent, routes=[{"dst": "0.0.0.0/0"}])
    result = cni("ADD", conf, cni_args="K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1").ok()
    assert result is not None
    (ip,) = result["ips"]
    address = ipaddress.ip_interface(ip["address"])
    assert address in ipaddress.ip_network("10.77.0.0/16") and address.network.prefixlen == 24
    assert ipaddress.ip_address(ip["gateway"]) in address.network
    assert result["routes"] == [{"dst": "0.0.0.0/0"}]
    (lease,) = active(client, owner_id=CONTAINER)
    assert (lease.host, lease.interface, lease.address_cidr) == ("node-1", "eth0", ip["address"])
    assert lease.attributes["K8S_POD_NAMESPACE"] == "prod" and lease.attributes["K8S_POD_NAME"] == "web-1"

    assert cni("ADD", conf).ok() == result  # a repeated ADD gets the same lease
    assert cni("DEL", conf).ok() is None
    assert active(client, owner_id=CONTAINER) == []
    assert cni("DEL", conf).ok() is None  # already gone
    assert cni("DEL", conf, container_id="never-added", netns=None).ok() is None


def test_e2e_result_in_0_3_1_and_dual_stack(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent, "0.3.1")
    del conf["ipam"]["pool"]
    conf["ipam"]["pools"] = ["cni4", "cni6"]
    result = cni("ADD", conf).ok()
    assert result is not None
    assert [ip["version"] for ip in result["ips"]] == ["4", "6"]
    assert ipaddress.ip_interface(result["ips"][1]["address"]) in ipaddress.ip_network("fd77::/48")
    assert len(active(client, owner_id=CONTAINER)) == 2


def test_e2e_requested_address(agent: Agent, client: IpamClient) -> None:
    first = cni("ADD", e2e_conf(agent)).ok()
    assert first is not None
    network = ipaddress.ip_interface(first["ips"][0]["address"]).network
    wanted = str(network[42])
    conf = {**e2e_conf(agent), "runtimeConfig": {"ips": [f"{wanted}/24"]}}
    result = cni("ADD", conf, container_id="c-wants-42").ok()
    assert result is not None and result["ips"][0]["address"] == f"{wanted}/{network.prefixlen}"
    # The same address for another container: a clear error, not a second holder.
    error = cni("ADD", conf, container_id="c-also-42").error(100)
    assert wanted in error["msg"]
    outside = {**e2e_conf(agent), "args": {"cni": {"ips": ["192.0.2.7"]}}}
    cni("ADD", outside, container_id="c-outside").error(100)


def test_e2e_check(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent, "1.1.0")
    result = cni("ADD", conf).ok()
    assert result is not None
    checked = {**conf, "prevResult": result}
    assert cni("CHECK", checked).ok() is None
    wrong = {**conf, "prevResult": {**result, "ips": [{"address": "10.77.250.250/24"}]}}
    cni("CHECK", wrong).error(100)
    cni("DEL", conf).ok()
    cni("CHECK", checked).error(3)


def test_e2e_gc_releases_what_is_not_listed(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent, "1.1.0")
    for container in ("keep-1", "drop-1", "drop-2"):
        cni("ADD", conf, container_id=container).ok()
    other_network = {**conf, "name": "othernet"}
    cni("ADD", other_network, container_id="other-net").ok()
    gc = {**conf, "cni.dev/valid-attachments": [{"containerID": "keep-1", "ifname": "eth0"}]}
    assert cni("GC", gc, container_id=None, netns=None, ifname=None).ok() is None
    assert sorted(lease.owner_id for lease in active(client, host="node-1")) == ["keep-1", "other-net"]


def test_e2e_status(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent, "1.1.0")
    assert cni("STATUS", conf, container_id=None, netns=None, ifname=None).ok() is None
    client.update_pool("cni4", disabled=True)
    error = cni("STATUS", conf, container_id=None, netns=None, ifname=None).error(50)
    assert "cni4" in error["msg"]


def test_e2e_unknown_pool_is_a_clear_error(agent: Agent) -> None:
    conf = e2e_conf(agent)
    conf["ipam"]["pool"] = "no-such-pool"
    error = cni("ADD", conf).error(7)
    assert "no-such-pool" in error["msg"]


def test_e2e_concurrent_adds_get_different_addresses(agent: Agent, client: IpamClient) -> None:
    conf = e2e_conf(agent)
    with ThreadPoolExecutor(max_workers=8) as pool:
        runs = list(pool.map(lambda n: cni("ADD", conf, container_id=f"par-{n}"), range(8)))
    addresses = []
    for run in runs:
        result = run.ok()
        assert result is not None
        addresses.append(result["ips"][0]["address"])
    assert len(set(addresses)) == 8


def test_server_mode_without_an_agent(server: str, client: IpamClient) -> None:
    client.create_pool("cni4", "10.77.0.0/16", 24)
    conf = netconf("1.0.0", pool="cni4", server=server)
    result = cni("ADD", conf).ok()
    assert result is not None
    (lease,) = active(client, owner_id=CONTAINER)
    assert lease.address_cidr == result["ips"][0]["address"]
    assert lease.host == socket.gethostname()
    assert cni("DEL", conf).ok() is None
    assert active(client, owner_id=CONTAINER) == []


def test_the_plugin_does_not_import_typing_at_run_time() -> None:
    # typing costs ~3 ms on every container start; annotations stay strings (`from __future__`).
    probe = "import sys, ipam_cni.plugin; print('typing' in sys.modules)"
    before = subprocess.run(
        [sys.executable, "-c", "import sys; print('typing' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=CNI_TIMEOUT,
    )
    after = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=CNI_TIMEOUT
    )
    assert before.stdout.strip() == "False", "the interpreter itself loads typing here: the test cannot tell"
    assert after.stdout.strip() == "False"
