"""Building and running the gRPC server: create_server() for tests, serve() for `ipam serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from datetime import timedelta
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from ipam.server.errors import ErrorInterceptor
from ipam.server.registry import EndpointServicer
from ipam.server.servicers import (
    AddressSpaceServicer,
    HostServicer,
    LeaseServicer,
    PoolServicer,
    SubnetServicer,
)
from ipam.service.event_hub import DEFAULT_RETENTION, EventHub
from ipam.store.engine import make_engine
from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc as rrpc

log = logging.getLogger(__name__)

WORKERS = 32
# Each watch stream holds a thread of its own, on top of the workers for unary calls.
MAX_WATCHERS = 256
GRACE_SECONDS = 10.0
SERVICE_NAMES = [
    descriptor.services_by_name[name].full_name
    for descriptor in (pb.DESCRIPTOR, rpb.DESCRIPTOR)
    for name in descriptor.services_by_name
]


class RunningServer:
    """The gRPC server and the event hub that feeds its watch streams; `stop` ends both."""

    def __init__(self, server: grpc.Server, hub: EventHub) -> None:
        self.grpc = server
        self.hub = hub

    def stop(self, grace: float | None) -> threading.Event:
        self.hub.stop()  # watch streams end first: they would hold the grace period to the end
        return self.grpc.stop(grace)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.grpc, name)


def create_server(
    engine: Engine, listen: str, *, workers: int = WORKERS, event_retention: timedelta = DEFAULT_RETENTION
) -> tuple[RunningServer, int]:
    """A started server bound to `listen` ("host:port"; port 0 picks one) and its port."""
    hub = EventHub(engine, retention=event_retention, max_watchers=MAX_WATCHERS)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers + MAX_WATCHERS, thread_name_prefix="rpc"),
        interceptors=[ErrorInterceptor()],
        options=[("grpc.so_reuseport", 0)],
    )
    rpc.add_AddressSpaceServiceServicer_to_server(AddressSpaceServicer(engine), server)
    rpc.add_PoolServiceServicer_to_server(PoolServicer(engine), server)
    rpc.add_HostServiceServicer_to_server(HostServicer(engine), server)
    rpc.add_SubnetServiceServicer_to_server(SubnetServicer(engine), server)
    rpc.add_LeaseServiceServicer_to_server(LeaseServicer(engine), server)
    rrpc.add_EndpointServiceServicer_to_server(EndpointServicer(engine, hub), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *SERVICE_NAMES]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    hub.start()
    server.start()
    return RunningServer(server, hub), port


def serve(
    database_url: str,
    listen: str,
    stop: threading.Event,
    *,
    workers: int = WORKERS,
    event_retention: timedelta = DEFAULT_RETENTION,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until `stop` is set, then let in-flight calls finish (up to GRACE_SECONDS).

    `on_ready(port)` is called once the server listens.
    """
    engine = make_engine(database_url, pool_size=min(workers, 20))
    try:
        server, port = create_server(engine, listen, workers=workers, event_retention=event_retention)
        log.debug("listening on %s (port %d)", listen, port)
        if on_ready is not None:
            on_ready(port)
        stop.wait()
        server.stop(GRACE_SECONDS).wait()
    finally:
        engine.dispose()
