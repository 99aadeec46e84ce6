"""Building and running the gRPC server: create_server() for tests, serve() for `ipam serve`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from ipam.server.errors import ErrorInterceptor
from ipam.server.servicers import (
    AddressSpaceServicer,
    DockerNetworkServicer,
    GcServicer,
    HostServicer,
    LeaseServicer,
    PoolServicer,
    SubnetServicer,
)
from ipam.service.collector import Collector
from ipam.service.gc import GcSettings
from ipam.store.engine import make_engine
from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc

log = logging.getLogger(__name__)

WORKERS = 32
GRACE_SECONDS = 10.0
DEFAULT_GC = GcSettings()
SERVICE_NAMES = [pb.DESCRIPTOR.services_by_name[name].full_name for name in pb.DESCRIPTOR.services_by_name]


def create_server(
    engine: Engine, listen: str, *, workers: int = WORKERS, gc: GcSettings = DEFAULT_GC
) -> tuple[grpc.Server, int]:
    """A started server bound to `listen` ("host:port"; port 0 picks one) and its port."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rpc"),
        interceptors=[ErrorInterceptor()],
        options=[("grpc.so_reuseport", 0)],
    )
    rpc.add_AddressSpaceServiceServicer_to_server(AddressSpaceServicer(engine), server)
    rpc.add_PoolServiceServicer_to_server(PoolServicer(engine), server)
    rpc.add_HostServiceServicer_to_server(HostServicer(engine, gc), server)
    rpc.add_GcServiceServicer_to_server(GcServicer(engine, gc), server)
    rpc.add_SubnetServiceServicer_to_server(SubnetServicer(engine), server)
    rpc.add_LeaseServiceServicer_to_server(LeaseServicer(engine), server)
    rpc.add_DockerNetworkServiceServicer_to_server(DockerNetworkServicer(engine), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *SERVICE_NAMES]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection([*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(listen)
    if port == 0:
        raise OSError(f"cannot listen on {listen}")
    server.start()
    return server, port


def serve(
    database_url: str,
    listen: str,
    stop: threading.Event,
    *,
    workers: int = WORKERS,
    gc: GcSettings = DEFAULT_GC,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Serve until `stop` is set, then let in-flight calls finish (up to GRACE_SECONDS).

    `on_ready(port)` is called once the server listens. Runs the periodic garbage collector
    unless `gc.interval_seconds` is 0.
    """
    engine = make_engine(database_url, pool_size=min(workers, 20))
    collector = Collector(engine, gc)
    try:
        server, port = create_server(engine, listen, workers=workers, gc=gc)
        log.debug("listening on %s (port %d)", listen, port)
        collector.start()
        if on_ready is not None:
            on_ready(port)
        stop.wait()
        collector.stop()
        server.stop(GRACE_SECONDS).wait()
    finally:
        collector.stop()
        engine.dispose()
