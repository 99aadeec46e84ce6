"""`ipam-cni install DIR` and the installed launcher: a CNI invocation forwarded whole to the agent.

The launcher must give exactly what the plugin run in its own process gives (results and every
error), take the fast path in the common case (the agent runs the plugin: nothing but built-in
modules imported in the plugin's process), and fall back to the whole plugin when the config names
a server or another agent socket, or when the agent cannot be reached.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cni_support import CNI_TIMEOUT, CONTAINER, Agent, active, cni, e2e_conf, netconf, running_agent, short_dir

from ipam_client import IpamClient
from ipam_cni import forward, install, launcher, protocol


@pytest.fixture
def agent(server: str, client: IpamClient) -> Iterator[Agent]:
    with running_agent(server, client) as started:
        yield started


LAUNCHERS = [
    pytest.param("native", marks=pytest.mark.skipif(install.find_compiler()[0] is None, reason="no C compiler")),
    "python",
]


@pytest.fixture(params=LAUNCHERS)
def installed(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The launcher as `ipam-cni install --launcher native|python` writes it into a fresh CNI bin dir."""
    bin_dir = short_dir()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ipam-cni"), "install", str(bin_dir), "--launcher", request.param],
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    target = bin_dir / "ipam-cni"
    assert proc.stdout.strip() == install.describe(install.Installed(target, request.param))
    yield target
    shutil.rmtree(bin_dir, ignore_errors=True)


def kind(plugin: Path) -> str:
    """Which launcher `plugin` is: "native" (the Python launcher beside it) or "python"."""
    return "native" if (plugin.parent / install.python_launcher_name(plugin.name)).exists() else "python"


def python_launcher(plugin: Path) -> Path:
    """The file that starts Python: beside a native launcher, else the plugin itself."""
    return plugin.parent / install.python_launcher_name(plugin.name) if kind(plugin) == "native" else plugin


def run_installed(plugin: Path, command: str, conf: dict[str, Any], **kwargs: str | None) -> dict[str, Any] | None:
    return cni(command, conf, argv=[str(plugin)], **kwargs).ok()


# --- the installed file -------------------------------------------------------------------------


def test_install_writes_an_executable_started_with_isolated_flags(installed: Path) -> None:
    text = python_launcher(installed).read_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    assert "from ipam_cni.launcher import main" in text
    assert os.access(installed, os.X_OK) and os.access(python_launcher(installed), os.X_OK)


def test_install_replaces_an_existing_file(installed: Path) -> None:
    launcher = kind(installed)
    installed.write_text("old")
    assert install.install(installed.parent, launcher=launcher) == install.Installed(installed, launcher)
    assert installed.read_bytes().startswith(b"\x7fELF" if launcher == "native" else b"#!")
    expected = [".ipam-cni-python", "ipam-cni"] if launcher == "native" else ["ipam-cni"]
    assert sorted(p.name for p in installed.parent.iterdir()) == expected  # no temporary left


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["install", "/nonexistent/bin"], "/nonexistent/bin is not a directory"),
        (["install", "/tmp", "--name", "../x"], "--name must be a plain file name"),
        (["install", "/tmp", "--launcher", "native", "--name", "../x"], "--name must be a plain file name"),
    ],
)
def test_install_errors_are_one_line(argv: list[str], message: str) -> None:
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ipam-cni"), *argv],
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"ipam-cni: error: {message}")


def test_interpreter_path_unusable_in_a_shebang() -> None:
    with pytest.raises(install.InstallError, match="cannot be used in a #! line"):
        install.launcher_source("/opt/my python/bin/python3", "/x")


def test_default_socket_is_the_protocols() -> None:
    assert launcher.DEFAULT_SOCKET == protocol.DEFAULT_SOCKET


# --- reading the agent socket without a JSON parser ---------------------------------------------


@pytest.mark.parametrize(
    ("stdin", "expected"),
    [
        (b'{"ipam": {"type": "ipam-cni"}}', "/default.sock"),
        (b'{"ipam": {"agent_socket": "/run/x.sock"}}', "/run/x.sock"),
        (b'{"ipam": {"agent_socket" :\n "/run/x.sock" }}', "/run/x.sock"),
        (b'{"ipam": {"agent_socket": "/run/x.sock", "server": "h:1"}}', None),
        (b'{"ipam": {"agent_socket": "/a"}, "x": {"agent_socket": "/b"}}', None),
        (b'{"ipam": {"agent_socket": "/run/\\u0078.sock"}}', None),
        (b'{"ipam": {"agent_socket": 5}}', None),
        (b'{"ipam": {"agent_socket": ""}}', None),
        (b'{"name": "agent_socket"}', None),
        (b'{"ipam": {"agent_socket": "/run/x.sock', None),
    ],
)
def test_agent_socket_is_read_only_in_the_plain_case(stdin: bytes, expected: str | None) -> None:
    assert forward.agent_socket(stdin, "/default.sock") == expected


def test_invocation_frame_round_trip() -> None:
    env = {b"CNI_COMMAND": b"ADD", b"CNI_ARGS": b"IP=10.0.0.5;K8S_POD_NAME=a=b", b"PATH": b"/bin", b"HOME": b"/root"}
    data = forward.frame("/run/ipam/agent.sock", env, b'{"x": 1}')
    assert data.startswith(forward.MAGIC)
    stream = io.BytesIO(data[len(forward.MAGIC) :])
    invocation = forward.read_invocation(stream)
    assert invocation.socket_path == "/run/ipam/agent.sock"
    assert invocation.env == {"CNI_COMMAND": "ADD", "CNI_ARGS": "IP=10.0.0.5;K8S_POD_NAME=a=b"}  # CNI_* only
    assert invocation.stdin == b'{"x": 1}'


@pytest.mark.parametrize(
    "body",
    [b"/s\nx y\n", b"/s\n5 5\nshort", b"/s\n3 0\nABC", b"/s\n999999999 0\n"],
)
def test_malformed_frames_are_value_errors(body: bytes) -> None:
    with pytest.raises(ValueError):
        forward.read_invocation(io.BytesIO(body))


# --- end to end through a real agent --------------------------------------------------------------


def test_forwarded_add_check_del_give_what_the_plugin_gives(agent: Agent, client: IpamClient, installed: Path) -> None:
    conf = e2e_conf(agent, "1.1.0", routes=[{"dst": "0.0.0.0/0"}])
    result = run_installed(installed, "ADD", conf, cni_args="K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-1")
    assert result is not None
    (lease,) = active(client, owner_id=CONTAINER)
    assert [ip["address"] for ip in result["ips"]] == [lease.address_cidr]
    assert lease.attributes["K8S_POD_NAME"] == "web-1"
    assert cni("ADD", conf).ok() == result  # the in-process plugin: the same lease, the same bytes
    assert run_installed(installed, "CHECK", {**conf, "prevResult": result}) is None
    assert run_installed(installed, "DEL", conf) is None
    assert active(client, owner_id=CONTAINER) == []
    assert run_installed(installed, "DEL", conf) is None  # already gone


def test_forwarded_errors_are_the_plugins(agent: Agent, installed: Path) -> None:
    bad_key = e2e_conf(agent)
    bad_key["ipam"]["colour"] = "blue"
    for argv in ([str(installed)], None):
        error = cni("ADD", bad_key, argv=argv).error(7)
        assert "colour" in error["msg"]
        unknown_pool = e2e_conf(agent)
        unknown_pool["ipam"]["pool"] = "no-such-pool"
        assert "no-such-pool" in cni("ADD", unknown_pool, argv=argv).error(7)["msg"]
        assert "CNI_NETNS" in cni("ADD", e2e_conf(agent), netns=None, argv=argv).error(4)["msg"]
        cni("ADD", stdin="{not json", argv=argv).error(6)


def test_forwarded_gc_and_status(agent: Agent, client: IpamClient, installed: Path) -> None:
    conf = e2e_conf(agent, "1.1.0")
    for container in ("keep-1", "drop-1"):
        run_installed(installed, "ADD", conf, container_id=container)
    gc = {**conf, "cni.dev/valid-attachments": [{"containerID": "keep-1", "ifname": "eth0"}]}
    assert run_installed(installed, "GC", gc, container_id=None, netns=None, ifname=None) is None
    assert [lease.owner_id for lease in active(client, host="node-1")] == ["keep-1"]
    assert run_installed(installed, "STATUS", conf, container_id=None, netns=None, ifname=None) is None


def test_fast_path_runs_in_the_agent(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    """The launcher's own process gets the answer from the agent and imports no JSON parser."""
    conf = json.dumps(e2e_conf(agent)).encode()
    for key, value in {
        "CNI_COMMAND": "ADD",
        "CNI_CONTAINERID": "fast-1",
        "CNI_NETNS": "/n",
        "CNI_IFNAME": "eth0",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CNI_PATH", "/opt/cni/bin")
    answer = launcher._forwarded(conf)
    assert answer is not None
    status, output = answer
    assert status == 0 and json.loads(output)["ips"][0]["address"].startswith("10.77.")
    heavy = "('json', 'os', 're', 'socket', 'typing')"
    probe = f"import sys; from ipam_cni import launcher; print(sorted(m for m in sys.modules if m in {heavy}))"
    proc = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            f"import sys; sys.path.insert(0, {str(Path(launcher.__file__).parent.parent)!r}); {probe}",
        ],
        capture_output=True,
        text=True,
        timeout=CNI_TIMEOUT,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_config_naming_another_socket_falls_back(agent: Agent, installed: Path) -> None:
    """The agent declines an invocation whose parsed config disagrees with the socket used."""
    conf = e2e_conf(agent)
    conf["ipam"]["agent_socket"] = "/nonexistent/other.sock"
    request = forward.frame(
        agent.socket,
        {
            b"CNI_COMMAND": b"ADD",
            b"CNI_CONTAINERID": b"x",
            b"CNI_NETNS": b"/n",
            b"CNI_IFNAME": b"eth0",
            b"CNI_PATH": b"/",
        },
        json.dumps(conf).encode(),
    )
    assert forward.exchange(agent.socket, request, CNI_TIMEOUT) is None
    # Through the launcher: the plugin runs itself and reports the unreachable socket it was given.
    error = cni("ADD", conf, argv=[str(installed)]).error(11)
    assert "/nonexistent/other.sock" in error["msg"]


def test_agent_down_is_code_11_through_the_launcher(installed: Path) -> None:
    error = cni("ADD", netconf(socket_path="/nonexistent/agent.sock"), argv=[str(installed)]).error(11)
    assert "/nonexistent/agent.sock" in error["msg"]
    assert cni("STATUS", netconf("1.1.0"), container_id=None, argv=[str(installed)]).error(50)


def test_version_and_server_mode_through_the_launcher(server: str, client: IpamClient, installed: Path) -> None:
    version = cni("VERSION", stdin='{"cniVersion": "0.4.0"}', argv=[str(installed)]).ok()
    assert version is not None and version["cniVersion"] == "0.4.0"
    client.create_pool("cni4", "10.77.0.0/16", 24)
    conf = netconf("1.0.0", pool="cni4", server=server)
    del conf["ipam"]["agent_socket"]
    result = cni("ADD", conf, argv=[str(installed)]).ok()  # grpc from site-packages despite -S
    assert result is not None
    (lease,) = active(client, owner_id=CONTAINER)
    assert lease.address_cidr == result["ips"][0]["address"]
    assert cni("DEL", conf, argv=[str(installed)]).ok() is None
