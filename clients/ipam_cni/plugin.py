"""`ipam-cni`: the CNI IPAM plugin executable, a thin shim in front of the host's `ipam agent`.

The runtime (or a main plugin such as `bridge`) runs it once per container start with the CNI_*
environment and the network config on stdin. It validates both, sends one request to the agent
over its unix socket (:mod:`ipam_cni.protocol`), and prints the result encoded in the config's
cniVersion. Standard library only: no grpc, nothing heavy per call.

Exit status 0 with the result (ADD, VERSION) or nothing (DEL, CHECK, GC, STATUS) on stdout; on
failure a CNI error `{"cniVersion", "code", "msg", "details"}` on stdout and exit status 1.
"""

from __future__ import annotations

import json
import os
import sys

from ipam_cni import protocol
from ipam_cni.config import (
    CODE_INTERNAL,
    CODE_IO_FAILURE,
    CODE_NOT_AVAILABLE,
    CODE_TRY_AGAIN,
    LATEST_VERSION,
    CniError,
    attributes,
    check_version,
    config_version,
    decode_stdin,
    parse_network,
    prev_addresses,
    read_command,
    read_environment,
    requested_addresses,
    single_subnet,
    valid_attachments,
)
from ipam_cni.result import add_result, error_result, version_answer

# Not `from typing import TYPE_CHECKING`: importing typing costs ~3 ms on every CNI call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ipam_cni.config import Environment, NetConfig

# How long one request to the agent may take (it may wait on the server for an allocation).
AGENT_TIMEOUT = 60.0


class Outcome:
    """What the invocation prints and its exit status."""

    __slots__ = ("output", "status")

    def __init__(self, output: dict[str, Any] | None, status: int = 0) -> None:
        self.output = output
        self.status = status


class InAgent:
    """Running inside the agent an invocation forwarded to `socket_path` (ipam_cni.forward):
    `handle` carries out the agent request in process instead of over the socket."""

    __slots__ = ("handle", "socket_path")

    def __init__(self, socket_path: str, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.socket_path = socket_path
        self.handle = handle


class NotForThisAgent(Exception):
    """A forwarded invocation whose config names a server or another agent socket."""


def run(env: Mapping[str, str], stdin: bytes, in_agent: InAgent | None = None) -> Outcome:
    """One invocation: the environment and stdin in, what to print and the exit status out."""
    version = LATEST_VERSION
    try:
        command = read_command(env)
        if command == "VERSION":
            return Outcome(version_answer(_requested_version(stdin)))
        cni_env = read_environment(command, env)
        conf = decode_stdin(stdin)
        version = config_version(conf)
        check_version(command, version)
        net = parse_network(conf, version)
        message = build_request(cni_env, net)
        if in_agent is not None:
            if net.ipam.server or net.ipam.agent_socket != in_agent.socket_path:
                raise NotForThisAgent
            response = in_agent.handle(message)
        elif net.ipam.server:
            response = ask_server(net.ipam.server, message)
        else:
            response = ask_agent(net.ipam.agent_socket, message)
        return Outcome(answer(command, net, response))
    except CniError as error:
        return Outcome(error_result(version, error), 1)


def _requested_version(stdin: bytes) -> str:
    """The cniVersion VERSION asks in; libcni's skel ignores stdin here, and so do we on junk."""
    try:
        value = json.loads(stdin.decode("utf-8")) if stdin.strip() else {}
    except ValueError:
        return LATEST_VERSION
    requested = value.get("cniVersion") if isinstance(value, dict) else None
    return requested if isinstance(requested, str) else LATEST_VERSION


def build_request(cni_env: Environment, net: NetConfig) -> dict[str, Any]:
    """The agent request of `ipam_cni.protocol` (every key present)."""
    command = cni_env.command
    per_container = command in ("ADD", "DEL", "CHECK")
    return protocol.new_request(
        command,
        container_id=cni_env.container_id if per_container else "",
        ifname=cni_env.ifname if per_container else "",
        netns=cni_env.netns if command == "ADD" else "",
        network=net.name,
        pools=net.ipam.pools,
        space=net.ipam.space,
        # Only ADD allocates; a bad requested address must not make DEL fail.
        addresses=requested_addresses(net.raw, cni_env.args) if command in ("ADD", "CHECK") else [],
        single_subnet=command == "ADD" and single_subnet(net),
        attributes=attributes(cni_env.args),
        prev_addresses=prev_addresses(net.raw) if command == "CHECK" else [],
        valid_attachments=valid_attachments(net.raw) if command == "GC" else [],
    )


def ask_agent(socket_path: str, message: dict[str, Any]) -> dict[str, Any]:
    """The agent's response; an unreachable agent is 11 (try again later), 50 for STATUS."""
    status = message["command"] == "STATUS"
    code = CODE_NOT_AVAILABLE if status else CODE_TRY_AGAIN
    try:
        return protocol.request(socket_path, message, timeout=AGENT_TIMEOUT)
    except OSError as exc:
        raise CniError(
            code,
            f"ipam agent unreachable at {socket_path}" + ("" if status else ": try again later"),
            f"{type(exc).__name__}: {exc}",
        ) from None
    except ValueError as exc:
        raise CniError(
            code,
            f"ipam agent at {socket_path} sent no valid answer" + ("" if status else ": try again later"),
            str(exc),
        ) from None


def ask_server(server: str, message: dict[str, Any]) -> dict[str, Any]:
    """Server mode (`ipam.server`, no agent): carry the request out in this process with the
    agent's own handlers, for this machine's host name. Imports grpc, so only here."""
    import contextlib
    import socket

    from ipam_agent.handlers import Handlers
    from ipam_agent.heartbeat import Registration
    from ipam_client import IpamClient, IpamClientError

    host = socket.gethostname()
    with IpamClient(server) as client, IpamClient(server, timeout=3.0, retries=0) as status_client:
        labels: dict[str, str] = {}
        if message["command"] == "ADD":
            # ADD registers the host: keep the labels an agent or an operator gave it. A server
            # that cannot be reached fails the allocation just after, with the handlers' code.
            with contextlib.suppress(IpamClientError):
                labels = dict(client.get_host(host).labels)
        return Handlers(client, status_client, Registration(client, host, labels)).handle(message)


def answer(command: str, net: NetConfig, response: dict[str, Any]) -> dict[str, Any] | None:
    """What to print for the agent's response: the ADD result, nothing, or the agent's error."""
    if response.get("ok") is not True:
        code = response.get("code")
        raise CniError(
            code if isinstance(code, int) and not isinstance(code, bool) and code > 0 else CODE_INTERNAL,
            str(response.get("msg") or "ipam agent refused the request"),
            str(response.get("details") or ""),
        )
    if command == "ADD":
        ips = response.get("ips")
        if not isinstance(ips, list) or not ips or not all(_is_ip_entry(ip) for ip in ips):
            raise CniError(CODE_INTERNAL, "ipam agent answered ADD without valid addresses", json.dumps(response))
        return add_result(net.cni_version, ips, net.ipam.routes, net.ipam.dns)
    if command == "GC":
        errors = response.get("errors") or []
        if errors:
            released = response.get("released", 0)
            raise CniError(
                protocol.CODE_REFUSED,
                f"GC released {released} lease(s) but failed on {len(errors)}",
                "; ".join(str(error) for error in errors),
            )
    return None


def _is_ip_entry(ip: Any) -> bool:
    return isinstance(ip, dict) and isinstance(ip.get("address"), str) and "/" in ip["address"]


def internal_error(exc: BaseException) -> Outcome:
    """The outcome of a bug: still a CNI error, never a traceback."""
    error = CniError(CODE_INTERNAL, f"ipam-cni internal error: {type(exc).__name__}: {exc}")
    return Outcome(error_result(LATEST_VERSION, error), 1)


def render(outcome: Outcome) -> bytes:
    """What the plugin writes on stdout for an outcome."""
    return b"" if outcome.output is None else json.dumps(outcome.output).encode() + b"\n"


def console() -> None:
    """The `ipam-cni` console script: the plugin, or `ipam-cni install DIR` when given arguments
    (runtimes never pass any)."""
    if len(sys.argv) > 1:
        from ipam_cni.install import command_line

        sys.exit(command_line(sys.argv[1:]))
    main()


def main(stdin: bytes | None = None) -> None:
    """Run one invocation (stdin read here unless given); never a traceback, always CNI JSON on
    failure."""
    try:
        outcome = _invoke(stdin)
    except (Exception, KeyboardInterrupt) as exc:
        outcome = internal_error(exc)
    status = outcome.status
    try:
        sys.stdout.buffer.write(render(outcome))
        sys.stdout.flush()
    except (Exception, KeyboardInterrupt):
        status = 1
    sys.exit(status)


def _invoke(stdin: bytes | None) -> Outcome:
    if stdin is None:
        try:
            stream = getattr(sys.stdin, "buffer", None)
            stdin = stream.read() if stream is not None else b""
        except OSError as exc:
            error = CniError(CODE_IO_FAILURE, "error reading from stdin", str(exc))
            return Outcome(error_result(LATEST_VERSION, error), 1)
    return run(os.environ, stdin)


if __name__ == "__main__":
    main()
