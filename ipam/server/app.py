"""Building and running the gRPC server: create_server() for tests, serve() for `ipam serve`."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent import futures
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer  # published as grpc_health.v1.health.aio
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc
from grpc_reflection.v1alpha._async import ReflectionServicer  # published as reflection.aio
from sqlalchemy import Engine

from ipam.server import registry_convert
from ipam.server.access_log import AccessLogInterceptor
from ipam.server.auth import AuthInterceptor
from ipam.server.bridge import Dispatcher, MethodTable
from ipam.server.calls import CallInterceptor
from ipam.server.errors import ErrorInterceptor
from ipam.server.metrics import Metrics, serve_metrics
from ipam.server.registry import EndpointServicer
from ipam.server.requests import RequestCheckInterceptor
from ipam.server.servicers import (
    AddressSpaceServicer,
    DockerNetworkServicer,
    GcServicer,
    HostServicer,
    LeaseServicer,
    PoolServicer,
    SubnetServicer,
    TokenServicer,
)
from ipam.server.tls import ServerTls
from ipam.server.token_cache import TokenCache
from ipam.service import tokens
from ipam.service.collector import Collector
from ipam.service.event_hub import DEFAULT_RETENTION, EventHub
from ipam.service.gc import GcSettings
from ipam.service.registry_backlog import CatchUpWorker
from ipam.store.call import DEFAULT_STATEMENT_TIMEOUT
from ipam.store.connections import DEFAULT_POOL_SIZE
from ipam.store.engine import make_engine
from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc as rrpc

log = logging.getLogger(__name__)
T = TypeVar("T")

# Threads for the unary calls (their handlers use blocking database access).
WORKERS = 32
# Watch streams are coroutines on the event loop (no thread each); past this many a replica
# refuses more with RESOURCE_EXHAUSTED (clients move to another replica).
MAX_WATCHERS = 20000
GRACE_SECONDS = 10.0
SWITCH_INTERVAL_SECONDS = 0.0005
FREEZE_SECONDS = 10.0
GRPC_OPTIONS = [
    ("grpc.so_reuseport", 0),
    # Calls that arrived but that the event loop has not picked up yet: past grpc's default of
    # 1,000 it starts resetting new ones, which a fleet's agents reconnecting together exceed.
    ("grpc.server.max_pending_requests", 20000),
    ("grpc.server.max_pending_requests_hard_limit", 50000),
]
SERVICE_NAMES = [
    descriptor.services_by_name[name].full_name
    for descriptor in (pb.DESCRIPTOR, rpb.DESCRIPTOR)
    for name in descriptor.services_by_name
]


@dataclass(frozen=True)
class ServerOptions:
    """How `ipam serve` runs beyond where it listens: auth, TLS, metrics, garbage collection."""

    workers: int = WORKERS
    auth: bool = False
    tls: ServerTls | None = None
    metrics_listen: str | None = None  # serve() only: where to serve /metrics
    # serve() runs the periodic collector unless its interval is 0.
    gc: GcSettings = field(default_factory=GcSettings)
    # How long endpoint history and the watch event log are kept (pruned by the server).
    event_retention: timedelta = DEFAULT_RETENTION
    # serve() only: the longest a database statement may run (0: no limit); calls with a shorter
    # deadline get a shorter one.
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT
    # How many watch streams the server holds at once.
    max_watchers: int = MAX_WATCHERS
    # serve() only: the database connections of its pool (docs/operations.md, "Connections").
    db_pool_size: int = DEFAULT_POOL_SIZE


class EventLoopThread:
    """An asyncio event loop on a thread of its own: the grpc.aio servers live there, while
    create_server() and stop() stay plain calls for the CLI and the tests. One per process
    (`shared`), never closed: grpc.aio's completion queue is per process and hands each event
    to the loop its call belongs to, which must still be running."""

    _shared: EventLoopThread | None = None
    _shared_lock = threading.Lock()

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc-aio", daemon=True)
        self._thread.start()

    @classmethod
    def shared(cls) -> EventLoopThread:
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = EventLoopThread()
            return cls._shared

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


class RunningServer:
    """The gRPC server, the event hub that feeds its watch streams and the registry's catch-up
    worker; `stop` ends all of them."""

    def __init__(
        self,
        server: grpc.aio.Server,
        loop: EventLoopThread,
        workers: futures.ThreadPoolExecutor,
        hub: EventHub,
        catch_up: CatchUpWorker,
        health_servicer: HealthServicer,
    ) -> None:
        self.grpc = server
        self.hub = hub
        self.catch_up = catch_up
        self.health = health_servicer
        self._loop = loop
        self._workers = workers

    def enter_graceful_shutdown(self) -> None:
        """Health checks say NOT_SERVING from now on: balancers move on."""
        self._loop.run(self.health.enter_graceful_shutdown())

    def stop(self, grace: float | None) -> threading.Event:
        """Stop taking calls and end the running ones after `grace` seconds; the event is set
        once all is stopped."""
        self.hub.stop()  # watch streams end first: they would hold the grace period to the end
        self.catch_up.stop()
        stopped = threading.Event()

        def finish() -> None:
            self._loop.run(self.grpc.stop(grace))
            self._workers.shutdown(wait=True)
            stopped.set()

        threading.Thread(target=finish, name="grpc-stop", daemon=True).start()
        return stopped


def create_server(
    engine: Engine,
    listen: str,
    options: ServerOptions = ServerOptions(),
    metrics: Metrics | None = None,
) -> tuple[RunningServer, int]:
    """A started server bound to `listen` ("host:port"; port 0 picks one) and its port.

    Raises TlsConfigError for unusable certificate files, before anything listens.
    Interceptors, outermost first: access log, metrics, auth, errors, call (deadline, cancel),
    request checks.
    """
    credentials = options.tls.credentials() if options.tls is not None else None
    token_cache = TokenCache(lambda token: tokens.authenticate(engine, token)) if options.auth else None
    interceptors: list[grpc.ServerInterceptor] = [AccessLogInterceptor()]
    if metrics is not None:
        interceptors.append(metrics.interceptor())
    if token_cache is not None:
        interceptors.append(AuthInterceptor(token_cache))
    interceptors.append(ErrorInterceptor())
    interceptors.append(CallInterceptor())
    interceptors.append(RequestCheckInterceptor())
    hub = EventHub(
        engine, registry_convert.framed_event, retention=options.event_retention, max_watchers=options.max_watchers
    )
    table = MethodTable()
    rpc.add_AddressSpaceServiceServicer_to_server(AddressSpaceServicer(engine), table)
    rpc.add_PoolServiceServicer_to_server(PoolServicer(engine), table)
    rpc.add_HostServiceServicer_to_server(HostServicer(engine, options.gc, metrics), table)
    rpc.add_GcServiceServicer_to_server(GcServicer(engine, options.gc, metrics), table)
    rpc.add_DockerNetworkServiceServicer_to_server(DockerNetworkServicer(engine, metrics), table)
    rpc.add_SubnetServiceServicer_to_server(SubnetServicer(engine), table)
    rpc.add_LeaseServiceServicer_to_server(LeaseServicer(engine, metrics), table)
    rpc.add_TokenServiceServicer_to_server(TokenServicer(engine, token_cache), table)
    rrpc.add_EndpointServiceServicer_to_server(EndpointServicer(engine, hub), table)
    health_servicer = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, table)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        ReflectionServicer([*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME]), table
    )
    workers = futures.ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="rpc")
    loop = EventLoopThread.shared()

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server(options=GRPC_OPTIONS)
        server.add_generic_rpc_handlers((Dispatcher(table, interceptors, workers),))
        port = server.add_secure_port(listen, credentials) if credentials else server.add_insecure_port(listen)
        for name in ["", *SERVICE_NAMES]:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        hub.attach(asyncio.get_running_loop())
        await server.start()
        return server, port

    try:
        server, port = loop.run(start())
    except BaseException:
        workers.shutdown(wait=False)
        raise
    if port == 0:
        loop.run(server.stop(None))
        raise OSError(f"cannot listen on {listen}")
    catch_up = CatchUpWorker(engine)
    hub.start()
    catch_up.start()
    return RunningServer(server, loop, workers, hub, catch_up, health_servicer), port


def freeze_long_lived_objects() -> None:
    """Every FREEZE_SECONDS, exempt the objects alive by then from the garbage collector's full
    collections (gc.freeze). Thousands of watch streams are long-lived objects: scanning them
    all in each full collection stopped the server for 0.2-1 s at a time (10,000 streams).
    Objects that die later are still freed (by reference counting); only reference cycles among
    frozen objects stay, and a replica makes few."""
    gc.freeze()  # type: ignore[attr-defined]  # (mypy takes benchmarks/gc.py for the module gc)
    timer = threading.Timer(FREEZE_SECONDS, freeze_long_lived_objects)
    timer.daemon = True
    timer.start()


def serve(
    database_url: str,
    listen: str,
    stop: threading.Event,
    options: ServerOptions = ServerOptions(),
    *,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until `stop` is set, then let in-flight calls finish (up to GRACE_SECONDS).

    `on_ready(port)` is called once the server listens. Runs the periodic garbage collector
    unless `options.gc.interval_seconds` is 0.
    """
    # A worker thread waits for the interpreter lock after each database round trip, while the
    # event loop thread runs: with the default 5 ms slices, a transaction of a few statements
    # holds its pooled connection tens of milliseconds longer than its work takes.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    freeze_long_lived_objects()
    engine = make_engine(database_url, pool_size=options.db_pool_size, statement_timeout=options.statement_timeout)
    metrics = Metrics.of(engine) if options.metrics_listen else None
    try:
        with ExitStack() as cleanup:
            if metrics is not None and options.metrics_listen:
                cleanup.callback(metrics.close)
                cleanup.callback(serve_metrics(metrics, options.metrics_listen))
            server, port = create_server(engine, listen, options, metrics)
            log.debug("listening on %s (port %d)", listen, port)
            collector = Collector(engine, options.gc, metrics.observe_gc if metrics is not None else None)
            collector.start()
            cleanup.callback(collector.stop)
            if on_ready is not None:
                on_ready(port)
            stop.wait()
            collector.stop()
            server.enter_graceful_shutdown()
            server.stop(GRACE_SECONDS).wait()
    finally:
        engine.dispose()
