"""`ipam-agent` (also `ipam agent`): register the host, heartbeat, serve the CNI plugin's socket and
Docker's remote IPAM driver (on `/run/docker/plugins/NAME.sock`, by default when that directory exists),
and with the driver, reconcile Docker networks at start-up and every interval (docker_reconcile);
release CNI leases whose container's network namespace is gone, likewise (cni_reconcile).

Runs until SIGTERM or SIGINT, then stops serving and removes the socket. Start-up failures print
one line, `ipam-agent: error: ...`, and exit 1 (2 for bad arguments). While the server cannot be
reached the agent keeps serving: ADD answers code 11 (try again later) and the heartbeat retries
with backoff.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

from ipam_agent.cni_reconcile import CniReconciler
from ipam_agent.docker_driver import DockerDriver
from ipam_agent.docker_engine import DockerEngine
from ipam_agent.docker_http import DockerPluginServer, plugin_socket
from ipam_agent.docker_reconcile import Reconciler, reconcile_forever
from ipam_agent.handlers import Handlers
from ipam_agent.heartbeat import Registration, heartbeat
from ipam_agent.options import DOCKER_PLUGINS_DIR, add_arguments, heartbeat_ttl
from ipam_agent.server import AgentSocketError, AgentSocketServer, UnixSocketServer
from ipam_client import IpamClient

log = logging.getLogger("ipam_agent")

# gRPC's own reconnect backoff grows to 120 s; cap it so the agent notices a restarted server soon.
CHANNEL_OPTIONS = [("grpc.max_reconnect_backoff_ms", 5000)]
STATUS_TIMEOUT = 3.0


class AgentError(Exception):
    """A start-up failure, explained in one line."""


def build_parser(prog: str = "ipam-agent") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Register this host with the IPAM server, heartbeat, serve the ipam-cni socket and "
        "Docker's IPAM driver.",
    )
    add_arguments(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('ipam-registry-client')}")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return run(args)
    except AgentError as err:
        print(f"ipam-agent: error: {err}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; raises AgentError when it cannot start."""
    stop = threading.Event()
    _stop_on_signals(stop)
    connection = _connection(args)
    client = IpamClient(args.server, **connection)
    status_client = IpamClient(args.server, timeout=STATUS_TIMEOUT, retries=0, **connection)
    registration = Registration(client, args.host, dict(args.label), heartbeat_ttl(args))
    try:
        server = AgentSocketServer(args.socket, Handlers(client, status_client, registration).handle)
    except AgentSocketError as err:
        client.close()
        status_client.close()
        raise AgentError(str(err)) from None
    servers: list[UnixSocketServer] = [server]
    try:
        docker = _docker_server(args, client)
    except AgentSocketError as err:
        server.remove()
        client.close()
        status_client.close()
        raise AgentError(str(err)) from None
    if docker is not None:
        servers.append(docker)
    threads = [
        threading.Thread(target=heartbeat, args=(registration, args.heartbeat, stop), name="heartbeat", daemon=True),
        *(
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, name=s.path, daemon=True)
            for s in servers
        ),
    ]
    if docker is not None and args.docker_reconcile_interval > 0:
        # Started after the plugin socket: a dockerd that replays requests can reach the agent.
        reconciler = Reconciler(
            client, registration, DockerEngine(args.docker_host), args.docker_plugin_name, args.docker_address_space
        )
        reconcile = (reconciler.run_once, args.docker_reconcile_interval, stop, "Docker")
        threads.append(threading.Thread(target=reconcile_forever, args=reconcile, name="docker-reconcile", daemon=True))
    if args.cni_reconcile_interval > 0:
        cni = CniReconciler(client, registration, args.cni_reconcile_grace)
        reconcile = (cni.run_once, args.cni_reconcile_interval, stop, "CNI")
        threads.append(threading.Thread(target=reconcile_forever, args=reconcile, name="cni-reconcile", daemon=True))
    for thread in threads:
        thread.start()
    sockets = ", ".join(s.path for s in servers)
    log.info("serving %s for host %r (server %s)", sockets, args.host, client.server)
    while not stop.wait(1.0):
        pass
    log.info("stopping")
    for each in servers:
        each.shutdown()
        each.remove()
    client.close()
    status_client.close()
    return 0


def _docker_server(args: argparse.Namespace, client: IpamClient) -> DockerPluginServer | None:
    """The Docker plugin socket when asked for (--docker), or by default when dockerd's plugin
    directory exists; a failure is fatal only when asked for."""
    wanted = args.docker
    if wanted is False or (wanted is None and not os.path.isdir(DOCKER_PLUGINS_DIR)):
        return None
    path = plugin_socket(args.docker_plugin_name, DOCKER_PLUGINS_DIR)
    try:
        return DockerPluginServer(path, DockerDriver(client, args.host, args.docker_address_space))
    except AgentSocketError as err:
        if wanted:
            raise
        log.warning("not serving Docker's IPAM driver: %s (use --no-docker to silence this)", err)
        return None


def _connection(args: argparse.Namespace) -> dict[str, Any]:
    """Token and TLS arguments of IpamClient; AgentError when a file cannot be read."""
    token = args.token
    try:
        if args.token_file:
            token = Path(args.token_file).read_text().strip()
        for path in (args.ca_file, args.cert_file, args.key_file):
            if path:
                Path(path).read_bytes()
    except OSError as exc:
        raise AgentError(f"{exc.filename}: {exc.strerror}") from None
    if bool(args.cert_file) != bool(args.key_file):
        raise AgentError("--cert-file and --key-file go together")
    return {
        "token": token,
        "tls": args.tls,
        "ca_file": args.ca_file,
        "cert_file": args.cert_file,
        "key_file": args.key_file,
        "channel_options": CHANNEL_OPTIONS,
    }


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
