"""The agent's command-line options, shared by `ipam-agent` and `ipam agent` (standard library only,
so that building the `ipam` CLI's parser stays light)."""

from __future__ import annotations

import argparse
import math
import os

from ipam_cni.protocol import DEFAULT_SOCKET

DEFAULT_HEARTBEAT = 10.0
# The default TTL: a host is stale only after missing this many heartbeats in a row.
TTL_HEARTBEATS = 3
DEFAULT_DOCKER_PLUGIN = "ipam"
DOCKER_PLUGINS_DIR = "/run/docker/plugins"
DEFAULT_RECONCILE_INTERVAL = 300.0
DEFAULT_CNI_GRACE = 300.0
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
UNIX_SCHEME = "unix://"
TLS_FILES = (
    ("--ca-file", "IPAM_TLS_CA", "CA certificate to verify the server (implies --tls)"),
    ("--cert-file", "IPAM_TLS_CERT", "client certificate for mutual TLS (implies --tls)"),
    ("--key-file", "IPAM_TLS_KEY", "private key of --cert-file"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="this host's name, as registered with the server")
    parser.add_argument(
        "--label", metavar="KEY=VALUE", action="append", type=_label, default=[], help="a host label (repeatable)"
    )
    parser.add_argument("--socket", default=DEFAULT_SOCKET, help=f"unix socket to serve (default: {DEFAULT_SOCKET})")
    parser.add_argument(
        "--server", metavar="HOST:PORT", type=_address, help="IPAM server (default: $IPAM_SERVER, else 127.0.0.1:50051)"
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", help="bearer token, an agent token bound to --host (default: $IPAM_TOKEN)")
    token.add_argument("--token-file", metavar="PATH", help="read the bearer token from this file (keeps it out of ps)")
    add_tls_arguments(parser)
    parser.add_argument(
        "--heartbeat",
        metavar="SECONDS",
        type=_positive,
        default=DEFAULT_HEARTBEAT,
        help=f"seconds between registrations, each wait drawn within ±20%% so that hosts do not "
        f"heartbeat in lockstep (default: {DEFAULT_HEARTBEAT:g})",
    )
    parser.add_argument(
        "--heartbeat-ttl",
        metavar="SECONDS",
        type=_whole_positive,
        help=f"seconds the server counts this host alive after a heartbeat (default: "
        f"{TTL_HEARTBEATS} heartbeat intervals); silent past the server's --gc-grace, the host is dead",
    )

    parser.add_argument(
        "--docker",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"serve Docker's remote IPAM driver on {DOCKER_PLUGINS_DIR}/NAME.sock (default: when "
        f"{DOCKER_PLUGINS_DIR} exists)",
    )
    parser.add_argument(
        "--docker-plugin-name",
        metavar="NAME",
        type=_plugin_name,
        default=DEFAULT_DOCKER_PLUGIN,
        help=f"the IPAM driver name for `docker network create --ipam-driver NAME` (default: {DEFAULT_DOCKER_PLUGIN})",
    )

    parser.add_argument(
        "--docker-address-space",
        metavar="SPACE",
        default="default",
        help="the address space of Docker networks (default: default)",
    )
    parser.add_argument(
        "--docker-host",
        metavar="unix:///PATH",
        type=_docker_host,
        default=default_docker_host(),
        help=f"dockerd's API socket, for reconciliation (default: $DOCKER_HOST when it is unix://..., "
        f"else {DEFAULT_DOCKER_HOST})",
    )
    parser.add_argument(
        "--docker-reconcile-interval",
        metavar="SECONDS",
        type=_non_negative,
        default=DEFAULT_RECONCILE_INTERVAL,
        help="release what dockerd no longer uses at start-up and then every SECONDS "
        f"(default: {DEFAULT_RECONCILE_INTERVAL:g}; 0: never)",
    )
    parser.add_argument(
        "--cni-reconcile-interval",
        metavar="SECONDS",
        type=_non_negative,
        default=DEFAULT_RECONCILE_INTERVAL,
        help="release CNI leases whose container's network namespace is gone, at start-up and then every "
        f"SECONDS (default: {DEFAULT_RECONCILE_INTERVAL:g}; 0: never)",
    )
    parser.add_argument(
        "--cni-reconcile-grace",
        metavar="SECONDS",
        type=_non_negative,
        default=DEFAULT_CNI_GRACE,
        help="a CNI lease is released once its network namespace has been missing this long and the lease is "
        f"at least this old (default: {DEFAULT_CNI_GRACE:g})",
    )


def default_docker_host() -> str:
    given = os.environ.get("DOCKER_HOST", "")
    try:
        docker_socket_path(given)
    except ValueError:
        return DEFAULT_DOCKER_HOST  # tcp:// or ssh://: the agent talks to the local dockerd only
    return given


def docker_socket_path(docker_host: str) -> str:
    """The path of a `unix:///path` DOCKER_HOST (ValueError for any other kind)."""
    path = docker_host.removeprefix(UNIX_SCHEME)
    if not docker_host.startswith(UNIX_SCHEME) or not path.startswith("/"):
        raise ValueError(f"expected unix:///path/to/docker.sock, got {docker_host!r}")
    return path


def _docker_host(text: str) -> str:
    try:
        docker_socket_path(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def _plugin_name(text: str) -> str:
    if not text or not all(c.isalnum() or c in "._-" for c in text) or text[0] in ".-":
        raise argparse.ArgumentTypeError(f"expected letters, digits, '.', '_' or '-', got {text!r}")
    return text


def add_tls_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """--tls, --ca-file, --cert-file, --key-file; shared with the `ipam` admin commands."""
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system CA roots unless --ca-file)")
    for option, env, what in TLS_FILES:
        default = os.environ.get(env) or None
        parser.add_argument(option, metavar="PEM", default=default, help=f"{what} (default: ${env})")


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 10.0.0.1:50051, got {text!r}")
    return text


def _seconds(text: str, *, zero: bool) -> float:
    """A finite number of seconds above 0 (or 0 and more, with `zero`)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 <= value < math.inf and (zero or value > 0)):
        wanted = "a number of seconds, 0 or more" if zero else "a positive number of seconds"
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
    return value


def _positive(text: str) -> float:
    return _seconds(text, zero=False)


def _non_negative(text: str) -> float:
    return _seconds(text, zero=True)


def _whole_positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds above 0, got {text!r}")
    return int(text)


def heartbeat_ttl(args: argparse.Namespace) -> int:
    """The TTL to register with: --heartbeat-ttl, else TTL_HEARTBEATS intervals rounded up."""
    if args.heartbeat_ttl:
        return int(args.heartbeat_ttl)
    return max(1, math.ceil(args.heartbeat * TTL_HEARTBEATS))
