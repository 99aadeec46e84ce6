"""`ipam serve`: run the gRPC server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from datetime import timedelta
from types import FrameType

from ipam.cli import database
from ipam.cli.errors import CliError

DEFAULT_LISTEN = "127.0.0.1:50051"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "serve",
        parents=parents,
        help="run the IPAM gRPC server",
        description="Run the IPAM gRPC server. Without a database URL an embedded PostgreSQL is "
        "started. Migrations are applied at start. Ctrl-C or SIGTERM stops it: calls in flight "
        "finish first; a second Ctrl-C stops at once.",
        epilog="examples:\n"
        "  ipam serve                                   # embedded PostgreSQL, 127.0.0.1:50051\n"
        "  ipam serve --data-dir /var/lib/ipam/pgdata --listen 0.0.0.0:50051\n"
        "  IPAM_DATABASE_URL=postgresql+psycopg://ipam@db/ipam ipam serve --listen 0.0.0.0:50051",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=listen_address,
        default=DEFAULT_LISTEN,
        help=f"address to serve gRPC on (default: {DEFAULT_LISTEN}; use 0.0.0.0:50051 for all interfaces)",
    )
    parser.add_argument(
        "--event-retention",
        metavar="DURATION",
        type=duration,
        default=timedelta(days=30),
        help="how long endpoint history and the watch event log are kept, e.g. 30d, 12h, 90m "
        "(default: 30d); older entries are pruned by the server",
    )
    database.add_options(parser)
    parser.set_defaults(run=run)


def listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:50051 or [::]:50051, got {value!r}")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: str) -> timedelta:
    """`30d`, `12h`, `90m`, `45s` (or plain seconds), at least one second."""
    text = value.strip().lower()
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    if not number.isdigit() or int(number) * _UNITS[unit] < 1:
        raise argparse.ArgumentTypeError(f"expected a duration such as 30d, 12h, 90m or 45s, got {value!r}")
    return timedelta(seconds=int(number) * _UNITS[unit])


def run(args: argparse.Namespace) -> int:
    from ipam.store.migrate import upgrade

    stop = threading.Event()
    _stop_on_signals(stop)
    with database.open_database(args) as db:
        upgrade(db.url)
        if not stop.is_set():  # a Ctrl-C during start-up
            _serve(db, args.listen, stop, args.event_retention)
    print("ipam: stopped", file=sys.stderr)
    return 0


def _serve(db: database.Database, listen: str, stop: threading.Event, retention: timedelta) -> None:
    from ipam.server.app import serve

    host = listen.rpartition(":")[0]

    def announce(port: int) -> None:
        print(f"ipam: serving on {host}:{port} (database: {db.label})", file=sys.stderr, flush=True)

    try:
        serve(db.url, listen, stop, event_retention=retention, on_ready=announce)
    except RuntimeError as exc:
        if "Failed to bind" not in str(exc):
            raise
        raise CliError(f"cannot listen on {listen}: {bind_problem(listen)}") from exc


def bind_problem(listen: str) -> str:
    """Why gRPC could not bind `listen`; grpc itself only says that it failed."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r} ({exc.strerror})"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc.strerror or str(exc)
    return "the address is not available"


def _stop_on_signals(stop: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # asked twice: stop now
        print("ipam: stopping; calls in flight finish first (Ctrl-C again to stop at once)", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
