"""Building and running the gRPC server: create_server() for tests, serve() for `ipam serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from ipam.server.access_log import AccessLogInterceptor
from ipam.server.auth import AuthInterceptor
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

WORKERS = 32
# Each watch stream holds a thread of its own, on top of the workers for unary calls; past this
# many streams a replica refuses more with RESOURCE_EXHAUSTED (clients move to another replica).
MAX_WATCHERS = 256
GRACE_SECONDS = 10.0
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
    # How many watch streams the server holds at once (each takes a thread).
    max_watchers: int = MAX_WATCHERS
    # serve() only: the database connections of its pool (docs/operations.md, "Connections").
    db_pool_size: int = DEFAULT_POOL_SIZE


class RunningServer:
    """The gRPC server, the event hub that feeds its watch streams and the registry's catch-up
    worker; `stop` ends all three."""

    def __init__(self, server: grpc.Server, hub: EventHub, catch_up: CatchUpWorker) -> None:
        self.grpc = server
        self.hub = hub
        self.catch_up = catch_up

    def stop(self, grace: float | None) -> threading.Event:
        self.hub.stop()  # watch streams end first: they would hold the grace period to the end
        self.catch_up.stop()
        return self.grpc.stop(grace)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.grpc, name)


def create_server(
    engine: Engine,
    listen: str,
    options: ServerOptions = ServerOptions(),
    metrics: Metrics | None = None,
    health_servicer: health.HealthServicer | None = None,
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
    hub = EventHub(engine, retention=options.event_retention, max_watchers=options.max_watchers)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.workers + options.max_watchers, thread_name_prefix="rpc"),
        interceptors=interceptors,
        options=[("grpc.so_reuseport", 0)],
    )
    rpc.add_AddressSpaceServiceServicer_to_server(AddressSpaceServicer(engine), server)
    rpc.add_PoolServiceServicer_to_server(PoolServicer(engine), server)
    rpc.add_HostServiceServicer_to_server(HostServicer(engine, options.gc, metrics), server)
    rpc.add_GcServiceServicer_to_server(GcServicer(engine, options.gc, metrics), server)
    rpc.add_DockerNetworkServiceServicer_to_server(DockerNetworkServicer(engine, metrics), server)
    rpc.add_SubnetServiceServicer_to_server(SubnetServicer(engine), server)
    rpc.add_LeaseServiceServicer_to_server(LeaseServicer(engine, metrics), server)
    rpc.add_TokenServiceServicer_to_server(TokenServicer(engine, token_cache), server)
    rrpc.add_EndpointServiceServicer_to_server(EndpointServicer(engine, hub), server)
    health_servicer = health_servicer or health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *SERVICE_NAMES]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_secure_port(listen, credentials) if credentials else server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    catch_up = CatchUpWorker(engine)
    hub.start()
    catch_up.start()
    server.start()
    return RunningServer(server, hub, catch_up), port


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
    engine = make_engine(database_url, pool_size=options.db_pool_size, statement_timeout=options.statement_timeout)
    metrics = Metrics.of(engine) if options.metrics_listen else None
    try:
        with ExitStack() as cleanup:
            if metrics is not None and options.metrics_listen:
                cleanup.callback(metrics.close)
                cleanup.callback(serve_metrics(metrics, options.metrics_listen))
            health_servicer = health.HealthServicer()
            server, port = create_server(engine, listen, options, metrics, health_servicer)
            log.debug("listening on %s (port %d)", listen, port)
            collector = Collector(engine, options.gc, metrics.observe_gc if metrics is not None else None)
            collector.start()
            cleanup.callback(collector.stop)
            if on_ready is not None:
                on_ready(port)
            stop.wait()
            collector.stop()
            health_servicer.enter_graceful_shutdown()  # health checks say NOT_SERVING: balancers move on
            server.stop(GRACE_SECONDS).wait()
    finally:
        engine.dispose()
