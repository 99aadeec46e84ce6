"""The native launcher (clients/ipam_cni/launcher.c) against the Python one it stands in for.

Two kinds of test. Against a real agent and server, the native launcher written by
`ipam-cni install` must print exactly what the Python launcher prints (forwarded or run by the
plugin). Without an agent, a copy compiled for the test (its default socket and its "Python
launcher" moved into a temporary directory, the latter a shell script that echoes its stdin)
shows the launcher's decisions one by one: which socket it connects to, the frame it sends (it
must equal `forward.frame()`), how it reads the answer, and the stdin it replays when it falls
back.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cni_support import CNI_TIMEOUT, CONTAINER, NETNS, Agent, active, e2e_conf, netconf, running_agent, short_dir

from ipam_client import IpamClient
from ipam_cni import config, forward, install, protocol

pytestmark = pytest.mark.skipif(install.find_compiler()[0] is None, reason="no C compiler")

ENV = {
    "CNI_COMMAND": "ADD",
    "CNI_CONTAINERID": CONTAINER,
    "PATH": "/usr/bin:/bin",
    "CNI_NETNS": NETNS,
    "CNI_IFNAME": "eth0",
    "HOME": "/root",
    "CNI_ARGS": "K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web=1",
    "CNI_PATH": "/opt/cni/bin",
}
ANSWER = b"0\nforwarded \xff output\n"


def execute(plugin: Path, stdin: bytes, env: dict[str, str] | None = None, /, **cni: str | None) -> tuple[int, bytes]:
    """Run a plugin as a runtime does: (exit status, stdout bytes)."""
    environment = {k: v for k, v in (env or {**os.environ, **ENV}).items()}
    for key, value in cni.items():
        name = f"CNI_{key.upper()}"
        environment.pop(name, None)
        if value is not None:
            environment[name] = value
    proc = subprocess.run([str(plugin)], input=stdin, env=environment, capture_output=True, timeout=CNI_TIMEOUT)
    assert b"Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


# --- against a real agent: the native launcher prints what the Python launcher prints -----------


@pytest.fixture
def agent(server: str, client: IpamClient) -> Iterator[Agent]:
    with running_agent(server, client) as started:
        yield started


@pytest.fixture
def launchers() -> Iterator[dict[str, Path]]:
    """`ipam-cni install --launcher native` and `--launcher python`, each in a bin dir of its own."""
    plugins: dict[str, Path] = {}
    directories = []
    for kind in ("native", "python"):
        bin_dir = short_dir()
        directories.append(bin_dir)
        installed = install.install(bin_dir, launcher=kind)
        assert installed.launcher == kind
        plugins[kind] = installed.path
    yield plugins
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


def both(launchers: dict[str, Path], stdin: bytes, **cni: str | None) -> tuple[int, bytes]:
    """Native, then Python: the same exit status and the same bytes (which are returned)."""
    native = execute(launchers["native"], stdin, **cni)
    python = execute(launchers["python"], stdin, **cni)
    assert native == python
    return native


def test_forwarded_add_check_del_are_byte_identical(
    agent: Agent, client: IpamClient, launchers: dict[str, Path]
) -> None:
    conf = e2e_conf(agent, "1.1.0", routes=[{"dst": "0.0.0.0/0"}])
    stdin = json.dumps(conf).encode()
    status, output = both(launchers, stdin, command="ADD")  # the second ADD: the same lease
    assert status == 0
    (lease,) = active(client, owner_id=CONTAINER)
    assert [ip["address"] for ip in json.loads(output)["ips"]] == [lease.address_cidr]
    check = json.dumps({**conf, "prevResult": json.loads(output)}).encode()
    assert both(launchers, check, command="CHECK") == (0, b"")
    assert execute(launchers["native"], stdin, command="DEL") == (0, b"")
    assert active(client, owner_id=CONTAINER) == []
    assert execute(launchers["python"], stdin, command="DEL") == (0, b"")  # already gone
    bad = {**conf, "ipam": {**conf["ipam"], "colour": "blue"}}
    status, output = both(launchers, json.dumps(bad).encode(), command="ADD")
    assert status == 1 and json.loads(output)["code"] == config.CODE_INVALID_CONFIG


def test_version_runs_the_plugin_on_the_replayed_stdin(launchers: dict[str, Path]) -> None:
    status, output = both(launchers, b'{"cniVersion": "0.4.0"}', command="VERSION")
    assert status == 0
    assert json.loads(output) == {"cniVersion": "0.4.0", "supportedVersions": list(config.SUPPORTED_VERSIONS)}


def test_unreachable_agent_gives_the_plugins_error(launchers: dict[str, Path]) -> None:
    stdin = json.dumps(netconf(socket_path="/nonexistent/agent.sock")).encode()
    status, output = both(launchers, stdin, command="ADD")
    error = json.loads(output)
    assert status == 1 and error["code"] == config.CODE_TRY_AGAIN
    assert "/nonexistent/agent.sock" in error["msg"]
    assert both(launchers, json.dumps(netconf("1.1.0")).encode(), command="STATUS", containerid=None)[0] == 1


def test_a_config_over_64_kib_is_replayed_whole(launchers: dict[str, Path]) -> None:
    """VERSION reads cniVersion from the end of a 200 KiB config; ADD names the socket at its end."""
    padding = "x" * (200 << 10)
    version = json.dumps({"padding": padding, "cniVersion": "0.3.1"}).encode()
    assert json.loads(both(launchers, version, command="VERSION")[1])["cniVersion"] == "0.3.1"
    conf = netconf(socket_path="/nonexistent/agent.sock")
    conf = {"padding": padding, **conf, "ipam": {**conf["ipam"], "agent_socket": "/nonexistent/big.sock"}}
    status, output = both(launchers, json.dumps(conf).encode(), command="ADD")
    assert status == 1 and "/nonexistent/big.sock" in json.loads(output)["msg"]


def test_a_config_naming_a_server_runs_the_plugin(server: str, client: IpamClient, launchers: dict[str, Path]) -> None:
    client.create_pool("cni4", "10.77.0.0/16", 24)
    conf = netconf("1.0.0", pool="cni4", server=server)
    del conf["ipam"]["agent_socket"]
    stdin = json.dumps(conf).encode()
    status, output = both(launchers, stdin, command="ADD")
    assert status == 0
    (lease,) = active(client, owner_id=CONTAINER)
    assert json.loads(output)["ips"][0]["address"] == lease.address_cidr
    assert execute(launchers["native"], stdin, command="DEL") == (0, b"")


# --- the launcher's decisions, observed one by one -------------------------------------------------


class Recorder:
    """A unix socket server that records each framed invocation and answers it with `answer`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.frames: list[bytes] = []
        self.answer = ANSWER
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection, connection.makefile("rb") as stream:
                data = stream.readline(4096)
                if data == forward.MAGIC:
                    path, sizes = stream.readline(4096), stream.readline(4096)
                    n_env, n_stdin = (int(size) for size in sizes.split())
                    data += path + sizes + stream.read(n_env + n_stdin)
                    self.frames.append(data)
                    connection.sendall(self.answer)
                else:
                    self.frames.append(data)  # not a frame: the plugin's own request

    def close(self) -> None:
        self.listener.close()
        self.thread.join(5)


class Build:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.binary = directory / "ipam-cni"
        self.default = Recorder(str(directory / "default.sock"))
        self.named = Recorder(str(directory / "named.sock"))


def compile_launcher(output: Path, python_launcher: Path, default_socket: str, *flags: str) -> None:
    compiler, why = install.find_compiler()
    assert compiler is not None, why
    command = [
        *compiler,
        "-O2",
        "-Wall",
        "-Wextra",
        "-Werror",
        *flags,
        f"-DIPAM_CNI_PYTHON_LAUNCHER={install.c_string(python_launcher)}",
        f"-DIPAM_CNI_DEFAULT_SOCKET={install.c_string(Path(default_socket))}",
        "-o",
        str(output),
        str(install.LAUNCHER_C),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr  # warning-free


def echoing_python_launcher(directory: Path) -> Path:
    """A stand-in for the Python launcher: prints its arguments and CNI_COMMAND, then its stdin."""
    fake = directory / "python-launcher"
    fake.write_text('#!/bin/sh\nprintf "FALLBACK %s %s\\n" "$*" "$CNI_COMMAND"\nexec cat\n')
    fake.chmod(0o755)
    return fake


@pytest.fixture(scope="module")
def build() -> Iterator[Build]:
    directory = short_dir()
    built = Build(directory)
    compile_launcher(built.binary, echoing_python_launcher(directory), built.default.path, "-std=c99")
    yield built
    built.default.close()
    built.named.close()
    shutil.rmtree(directory, ignore_errors=True)


def fell_back(stdin: bytes, command: str = "ADD") -> tuple[int, bytes]:
    return 0, f"FALLBACK --no-forward {command}\n".encode() + stdin


def test_the_launcher_builds_warning_free_as_gnu99(tmp_path: Path) -> None:
    compile_launcher(tmp_path / "ipam-cni", tmp_path / "python", "/run/x.sock", "-std=gnu99", "-Wpedantic")


def test_compiled_in_constants_are_the_pythons() -> None:
    source = install.LAUNCHER_C.read_text()
    assert f'#define IPAM_CNI_DEFAULT_SOCKET "{protocol.DEFAULT_SOCKET}"' in source
    assert f'#define LATEST_VERSION "{config.LATEST_VERSION}"' in source
    assert '#define MAGIC "CNI-EXEC 1\\n"' in source and forward.MAGIC == b"CNI-EXEC 1\n"
    assert '#define FALLBACK "fallback\\n"' in source and forward.FALLBACK == b"fallback\n"
    assert re.search(r"AGENT_TIMEOUT_SECONDS 60\b", source)


CONFIGS = [
    b'{"ipam": {"type": "ipam-cni"}}',
    b'{"ipam": {"agent_socket": "NAMED"}}',
    b'{"ipam": {"agent_socket" :\n "NAMED" }}',
    b'{"ipam": {"agent_socket"\t\r\x0b\x0c:\t"NAMED"}}',
    b'{"ipam": {"agent_socket": "NAMED", "server": "h:1"}}',
    b'{"server": "h:1"}',
    b'{"name": "server"}',
    b'{"name": "a \\"server\\""}',  # no `"server"` in the bytes: forwarded
    b'{"ipam": {"agent_socket": "NAMED"}, "x": {"agent_socket": "NAMED"}}',
    b'{"ipam": {"agent_socket": "/run/\\u0078.sock"}}',
    b'{"ipam": {"agent_socket": "NAMED\\"x"}}',
    b'{"ipam": {"agent_socket": "NAMED\nx"}}',
    b'{"ipam": {"agent_socket": 5}}',
    b'{"ipam": {"agent_socket": ""}}',
    b'{"ipam": {"agent_socket": "',
    b'{"ipam": {"agent_socket": "NAMED',
    b'{"ipam": {"agent_socket"',
    b'{"ipam": {"agent_socket": }}',
    b'{"name": "agent_socket"}',
    b'{"name": "x", "agent_socket":"NAMED"}',
    b'{"ipam": {"agent_socket": "NAMED\xff"}}',  # not UTF-8
    b'{"ipam": {"agent_socket": "NAMED\xed\xa0\x80"}}',  # a surrogate: not UTF-8 either
    b'{"ipam": {"agent_socket": "NAMED\xc0\xaf"}}',  # overlong
    b'{"ipam": {"agent_socket": "/nonexistent/\xc3\xa9.sock"}}',  # UTF-8, unreachable
    b'{"ipam": {"agent_socket": "/' + b"x" * 120 + b'"}}',  # longer than sun_path
    b'{"agent_socket": "DEFAULT"}',
    b"",
    b"\0\0\0",
    b"not json at all",
]


@pytest.mark.parametrize("stdin", CONFIGS)
@pytest.mark.parametrize("command", ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "add", ""])
def test_socket_decision_and_frame_are_the_pythons(build: Build, stdin: bytes, command: str) -> None:
    stdin = stdin.replace(b"NAMED", build.named.path.encode()).replace(b"DEFAULT", build.default.path.encode())
    env = {**ENV, "CNI_COMMAND": command}
    build.default.frames.clear()
    build.named.frames.clear()
    outcome = execute(build.binary, stdin, env)
    path = forward.agent_socket(stdin, build.default.path)
    if command not in ("ADD", "DEL", "CHECK", "GC", "STATUS") or path not in (build.default.path, build.named.path):
        assert outcome == fell_back(stdin, command)
        assert build.default.frames == build.named.frames == []
        return
    recorder = build.default if path == build.default.path else build.named
    environ = {k.encode(): v.encode() for k, v in env.items()}
    assert recorder.frames == [forward.frame(path, environ, stdin)]
    assert outcome == (0, ANSWER.partition(b"\n")[2])


def test_environment_order_and_odd_values_in_the_frame(build: Build) -> None:
    env = {"CNI_Z": "last=first", "A": "1", "CNI_COMMAND": "DEL", "CNI_": "", "CNI_ARGS": "a=b;c=d", "XCNI_NO": "x"}
    stdin = b'{"ipam": {"agent_socket": "%s"}}' % build.named.path.encode()
    build.named.frames.clear()
    assert execute(build.binary, stdin, env)[0] == 0
    environ = {k.encode(): v.encode() for k, v in env.items()}
    assert build.named.frames == [forward.frame(build.named.path, environ, stdin)]
    assert b"CNI_Z=last=first\0CNI_COMMAND=DEL\0CNI_=\0CNI_ARGS=a=b;c=d{" in build.named.frames[0]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"0\n", (0, b"")),
        (b'1\n{"code": 7}\n', (1, b'{"code": 7}\n')),
        (b"3\nx\ny\n", (3, b"x\ny\n")),
        (b" 7 \nout", (7, b"out")),
        (b"+2\n", (2, b"")),
        (b"-1\n", (255, b"")),
        (b"1_0\n", (10, b"")),
        (b"256\n", (0, b"")),
        (b"99999999999999999999999\n", (255, b"")),
        (b"fallback\nignored", None),
        (b"fallback\n", None),
        (b"\n", None),
        (b"x\n", None),
        (b"1__0\n", None),
        (b"_1\n", None),
        (b"1_\n", None),
        (b"0", None),  # no newline: the agent hung up without an answer
        (b"", None),
    ],
)
def test_answers_are_read_as_python_reads_them(build: Build, answer: bytes, expected: tuple[int, bytes] | None) -> None:
    stdin = b'{"ipam": {"agent_socket": "%s"}}' % build.named.path.encode()
    build.named.answer = answer
    try:
        outcome = execute(build.binary, stdin)
    finally:
        build.named.answer = ANSWER
    assert outcome == (expected if expected is not None else fell_back(stdin))
    # What the Python launcher makes of it: the answer read by forward.exchange, then sys.exit().
    request = forward.frame(build.named.path, {k.encode(): v.encode() for k, v in ENV.items()}, stdin)
    build.named.answer = answer
    try:
        python = forward.exchange(build.named.path, request, CNI_TIMEOUT)
    except OSError:
        python = None
    finally:
        build.named.answer = ANSWER
    if python is not None:
        status, output = python
        python = (status & 0xFF if -(2**63) <= status < 2**63 else 255, output)
    assert python == expected


def test_binary_stdin_over_64_kib_is_replayed_intact(build: Build) -> None:
    stdin = bytes(range(256)) * 1024 + b'"server"'  # 256 KiB and a server: falls back
    assert execute(build.binary, stdin) == fell_back(stdin)
    assert execute(build.binary, stdin, command="VERSION") == fell_back(stdin, "VERSION")


def test_an_unreachable_socket_falls_back(build: Build, tmp_path: Path) -> None:
    for path in ("/nonexistent/agent.sock", str(tmp_path)):  # missing; a directory, not a socket
        stdin = b'{"ipam": {"agent_socket": "%s"}}' % path.encode()
        assert execute(build.binary, stdin) == fell_back(stdin)


def test_an_agent_that_hangs_up_falls_back(tmp_path: Path, build: Build) -> None:
    path = str(tmp_path / "rude.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def hang_up() -> None:
        connection, _ = listener.accept()
        connection.recv(10)
        connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        stdin = b'{"ipam": {"agent_socket": "%s"}, "pad": "%s"}' % (path.encode(), b"p" * (1 << 20))
        assert execute(build.binary, stdin) == fell_back(stdin)
    finally:
        thread.join(5)
        listener.close()


def test_an_agent_with_a_full_backlog_falls_back_at_once(tmp_path: Path, build: Build) -> None:
    """As the Python launcher: connect() is refused at once (EAGAIN), not waited on for the
    agent's 60 s timeout; the plugin then runs in this process."""
    path = str(tmp_path / "busy.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(0)  # never accepted: the backlog fills
    queued = []
    try:
        while True:
            waiting = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            waiting.setblocking(False)
            queued.append(waiting)
            try:
                waiting.connect(path)
            except BlockingIOError:
                break
        stdin = b'{"ipam": {"agent_socket": "%s"}}' % path.encode()
        with pytest.raises(BlockingIOError):  # what forward.exchange meets: the Python launcher falls back
            forward.exchange(path, forward.frame(path, {}, stdin), CNI_TIMEOUT)
        environment = {**os.environ, **ENV}
        # Far below the agent timeout: a launcher blocking in connect() would be killed here.
        proc = subprocess.run(
            [str(build.binary)], input=stdin, env=environment, capture_output=True, timeout=CNI_TIMEOUT / 4
        )
        assert (proc.returncode, proc.stdout) == fell_back(stdin)
    finally:
        for waiting in queued:
            waiting.close()
        listener.close()


def test_stdin_is_replayed_through_a_temporary_file_without_memfd(tmp_path: Path) -> None:
    """Without memfd_create (kernels before 3.17), stdin goes through an unlinked file in $TMPDIR."""
    fake = echoing_python_launcher(tmp_path)
    binary = tmp_path / "ipam-cni"
    compile_launcher(binary, fake, "/nonexistent/default.sock", "-DIPAM_CNI_NO_MEMFD")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    stdin = bytes(range(256)) * 512 + b'"server"'
    assert execute(binary, stdin, {**ENV, "TMPDIR": str(scratch)}) == fell_back(stdin)
    assert list(scratch.iterdir()) == []  # unlinked before the Python launcher runs
    # Proof that the file was the way: without a usable $TMPDIR there is no replay.
    status, output = execute(binary, stdin, {**ENV, "TMPDIR": str(tmp_path / "missing")})
    assert status == 1
    error = json.loads(output)
    assert error["code"] == config.CODE_INTERNAL
    assert error["msg"] == (
        f"ipam-cni internal error: cannot replay stdin to the Python launcher {fake}: No such file or directory "
        "(run `ipam-cni install` again)"
    )


@pytest.mark.parametrize("name", ["missing-launcher", 'odd "é\\ \x01 \udcff name'])
def test_a_python_launcher_that_cannot_run_is_a_cni_error(tmp_path: Path, name: str) -> None:
    """Printed as the plugin prints an internal error: json.dumps, code 999, the latest version."""
    missing = tmp_path / name
    binary = tmp_path / "ipam-cni"
    compile_launcher(binary, missing, "/nonexistent/default.sock")
    status, output = execute(binary, b"{}", command="VERSION")
    assert status == 1
    error: dict[str, Any] = json.loads(output)
    assert output == json.dumps(error).encode() + b"\n"
    assert error["cniVersion"] == config.LATEST_VERSION and error["code"] == config.CODE_INTERNAL
    assert error["msg"] == (
        f"ipam-cni internal error: cannot execute the Python launcher {missing}: No such file or directory "
        "(run `ipam-cni install` again)"
    )


# --- ipam-cni install --launcher --------------------------------------------------------------------


def run_install(bin_dir: Path, *args: str, cc: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if cc is not None:
        env["CC"] = cc
    return subprocess.run(
        [str(Path(sys.executable).parent / "ipam-cni"), "install", str(bin_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_install_native(tmp_path: Path) -> None:
    proc = run_install(tmp_path, "--launcher", "native")
    assert proc.returncode == 0, proc.stderr
    beside = tmp_path / ".ipam-cni-python"
    assert proc.stdout == f"installed {tmp_path / 'ipam-cni'} (native launcher; Python launcher {beside})\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ipam-cni-python", "ipam-cni"]  # no temporary left
    assert (tmp_path / "ipam-cni").read_bytes().startswith(b"\x7fELF")
    assert beside.read_text().startswith(f"#!{sys.executable} -IS\n") and os.access(beside, os.X_OK)
    assert str(beside).encode() in (tmp_path / "ipam-cni").read_bytes()  # compiled in


def test_install_python_replaces_a_native_install(tmp_path: Path) -> None:
    assert run_install(tmp_path, "--launcher", "native").returncode == 0
    proc = run_install(tmp_path, "--launcher", "python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"installed {tmp_path / 'ipam-cni'} (Python launcher)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ipam-cni"]
    assert (tmp_path / "ipam-cni").read_text().startswith(f"#!{sys.executable} -IS\n")


def test_install_native_without_a_compiler_fails_clearly(tmp_path: Path) -> None:
    proc = run_install(tmp_path, "--launcher", "native", cc="/nonexistent/cc")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (
        "ipam-cni: error: cannot install the native launcher: the C compiler CC='/nonexistent/cc' is not found\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("cc", "why"),
    [("/nonexistent/cc", "the C compiler CC='/nonexistent/cc' is not found"), ("false", "false failed (exit 1): ")],
)
def test_install_auto_falls_back_to_python_and_says_why(tmp_path: Path, cc: str, why: str) -> None:
    proc = run_install(tmp_path, cc=cc)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"installed {tmp_path / 'ipam-cni'} (Python launcher: {why})\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ipam-cni"]  # neither temporaries nor .ipam-cni-python
    assert (tmp_path / "ipam-cni").read_text().startswith("#!")


def test_install_auto_compiles_with_a_compiler(tmp_path: Path) -> None:
    proc = run_install(tmp_path, "--name", "my-ipam")
    assert proc.returncode == 0, proc.stderr
    assert "(native launcher; Python launcher" in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [".my-ipam-python", "my-ipam"]
    status, output = execute(tmp_path / "my-ipam", b"{}", command="VERSION")
    assert status == 0 and json.loads(output)["cniVersion"] == config.LATEST_VERSION


def test_c_string_escapes() -> None:
    assert install.c_string(Path('/a "b"\\c??/é\n')) == '"/a \\042b\\042\\134c\\077\\077/\\303\\251\\012"'
