"""`ipam serve`: run the gRPC server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ipam.cli import database
from ipam.cli.durations import duration, duty, retention, whole_seconds
from ipam.cli.errors import CliError, UsageError
from ipam.domain.liveness import DEFAULT_GC_DUTY, DEFAULT_GC_INTERVAL_SECONDS, DEFAULT_GRACE_SECONDS, MIN_GC_DUTY
from ipam.store.call import DEFAULT_STATEMENT_TIMEOUT
from ipam.store.connections import DEFAULT_POOL_SIZE, MIN_POOL_SIZE, POOL_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from ipam.server.app import ServerOptions

DEFAULT_LISTEN = "127.0.0.1:50051"
FIRST_TOKEN_HINT = (
    "create the first admin token, straight in the database, with: "
    "ipam token create NAME --role admin --database-url URL"
)


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
        "  IPAM_DATABASE_URL=postgresql+psycopg://ipam@db/ipam ipam serve --listen 0.0.0.0:50051\n"
        "  ipam serve --listen 0.0.0.0:50051 --auth --tls-cert tls/server.pem --tls-key tls/server-key.pem \\\n"
        "      --metrics-listen 0.0.0.0:9464 --log-format json     # production: see README\n\n"
        "Each RPC is logged at info (logger ipam.access): method, code, duration, peer, request id.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=listen_address,
        default=DEFAULT_LISTEN,
        help=f"address to serve gRPC on (default: {DEFAULT_LISTEN}; use 0.0.0.0:50051 for all interfaces)",
    )
    security = parser.add_argument_group("security")
    security.add_argument(
        "--auth",
        action="store_true",
        help="require a bearer token on every call but health checks (the production setting; see ipam token)",
    )
    security.add_argument("--tls-cert", metavar="PEM", type=Path, help="server certificate (chain): serve TLS")
    security.add_argument("--tls-key", metavar="PEM", type=Path, help="private key of --tls-cert")
    security.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        type=Path,
        help="CA of client certificates: clients without a certificate signed by it are refused (mutual TLS)",
    )
    parser.add_argument(
        "--metrics-listen",
        metavar="HOST:PORT",
        type=listen_address,
        help="serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (default: off)",
    )
    collection = parser.add_argument_group("garbage collection")
    collection.add_argument(
        "--gc-interval",
        metavar="DURATION",
        type=duration,
        default=float(DEFAULT_GC_INTERVAL_SECONDS),
        help=f"run garbage collection this often, on one replica at a time (default: "
        f"{DEFAULT_GC_INTERVAL_SECONDS}s; 0 turns the periodic collector off)",
    )
    collection.add_argument(
        "--gc-grace",
        metavar="DURATION",
        type=whole_seconds,
        default=DEFAULT_GRACE_SECONDS,
        help=f"a host silent this long is dead and its leases are reclaimed; nothing younger is "
        f"reclaimed (default: {DEFAULT_GRACE_SECONDS // 60}m)",
    )
    collection.add_argument(
        "--gc-duty",
        metavar="FRACTION",
        type=duty,
        default=DEFAULT_GC_DUTY,
        help=f"the share of time a collection works, {MIN_GC_DUTY:g} .. 1 (default: {DEFAULT_GC_DUTY:g}); below 1 "
        "it rests between its transactions, leaving the database's CPU to allocations, and takes longer",
    )
    parser.add_argument(
        "--statement-timeout",
        metavar="DURATION",
        type=duration,
        default=DEFAULT_STATEMENT_TIMEOUT,
        help=f"the longest a database statement may run, e.g. 30s, 2m (default: {DEFAULT_STATEMENT_TIMEOUT:g}s; "
        "0: no limit); it is stopped after that and the call answers DEADLINE_EXCEEDED. A call with a "
        "shorter gRPC deadline gets its remaining time instead (see docs/timeouts.md)",
    )
    parser.add_argument(
        "--event-retention",
        metavar="DURATION",
        type=retention,
        default=timedelta(days=30),
        help="how long endpoint history and the watch event log are kept, e.g. 30d, 12h, 90m "
        "(default: 30d); older entries are pruned by the server",
    )
    parser.add_argument(
        "--max-watchers",
        metavar="N",
        type=_watchers,
        help="the most watch streams this server holds at once (default: 20000; see docs/limits.md); "
        "past it, WatchEndpoints answers RESOURCE_EXHAUSTED and clients resume on another replica",
    )
    database.add_options(parser)
    parser.add_argument(
        "--db-pool-size",
        metavar="N",
        type=_pool_size,
        default=DEFAULT_POOL_SIZE,
        help=f"database connections this server keeps, {MIN_POOL_SIZE} or more (default: {DEFAULT_POOL_SIZE}); "
        "it opens one more to LISTEN. A call that finds none free within "
        f"{POOL_TIMEOUT_SECONDS:g}s answers UNAVAILABLE. Size it so that replicas x (N + 1) stays below "
        "PostgreSQL's max_connections (see docs/operations.md, Connections)",
    )
    parser.set_defaults(run=run)


def _pool_size(value: str) -> int:
    if not value.isdigit() or int(value) < MIN_POOL_SIZE:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of connections, {MIN_POOL_SIZE} or more, got {value!r}"
        )
    return int(value)


def _watchers(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of streams, 0 or more, got {value!r}")
    return int(value)


def listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:50051 or [::]:50051, got {value!r}")
    return value


def server_options(args: argparse.Namespace) -> ServerOptions:
    from ipam.server.app import ServerOptions
    from ipam.server.tls import ServerTls, TlsConfigError
    from ipam.service.gc import GcSettings

    if (args.tls_cert is None) != (args.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if args.tls_client_ca is not None and args.tls_cert is None:
        raise UsageError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)")
    tls = ServerTls(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert is not None else None
    if tls is not None:
        try:
            tls.credentials()  # bad files fail here, before the database is touched
        except TlsConfigError as exc:
            raise CliError(str(exc)) from None
    gc = GcSettings(args.gc_grace, args.gc_interval, args.gc_duty)
    return ServerOptions(
        auth=args.auth,
        tls=tls,
        metrics_listen=args.metrics_listen,
        gc=gc,
        event_retention=args.event_retention,
        statement_timeout=args.statement_timeout,
        max_watchers=ServerOptions.max_watchers if args.max_watchers is None else args.max_watchers,
        db_pool_size=args.db_pool_size,
    )


def run(args: argparse.Namespace) -> int:
    from ipam.store.migrate import upgrade

    options = server_options(args)
    stop = threading.Event()
    _stop_on_signals(stop)
    with database.open_database(args) as db:
        upgrade(db.url)
        if not stop.is_set():  # a Ctrl-C during start-up
            _serve(db, args.listen, stop, options)
    print("ipam: stopped", file=sys.stderr)
    return 0


def _serve(db: database.Database, listen: str, stop: threading.Event, options: ServerOptions) -> None:
    from ipam.server.app import serve

    host = listen.rpartition(":")[0]

    def announce(port: int) -> None:
        security = "plaintext" if options.tls is None else "TLS" if options.tls.client_ca_file is None else "mutual TLS"
        print(f"ipam: serving on {host}:{port}, {security} (database: {db.label})", file=sys.stderr, flush=True)
        if options.metrics_listen:
            print(f"ipam: metrics on http://{options.metrics_listen}/metrics", file=sys.stderr, flush=True)
        if options.auth:
            print(f"ipam: authentication is on; {FIRST_TOKEN_HINT}", file=sys.stderr, flush=True)

    try:
        serve(db.url, listen, stop, options, on_ready=announce)
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
