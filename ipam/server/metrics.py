"""Prometheus metrics: RPCs by method and code, leases allocated and released, pool usage,
garbage collection (candidates and reclaims by reason, run time), the registry backlog, the
database connection pool and database errors.

Each server has its own registry (tests run several servers in one process). Pool usage is read
from the database when scraped, at most once per USAGE_CACHE_SECONDS, never per RPC.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from ipam.domain.records import PoolRecord, Reclaimed
from ipam.server.handlers import Scope, ScopeInterceptor, measured
from ipam.service import registry_backlog
from ipam.service.gc import GcReport
from ipam.store import tx

USAGE_CACHE_SECONDS = 15.0
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GC_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self, engine: Engine, list_pools: Callable[[], Iterable[PoolRecord]]) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter("ipam_rpc_requests", "RPCs handled", ["method", "code"], registry=self.registry)
        self.latency = Histogram(
            "ipam_rpc_duration_seconds",
            "RPC handling time",
            ["method", "code"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.allocated = Counter("ipam_leases_allocated", "Leases newly allocated", registry=self.registry)
        self.released = Counter("ipam_leases_released", "Leases released", registry=self.registry)
        by_reason = ["reason", "kind"]
        self.gc_candidates = Counter(
            "ipam_gc_candidates", "Garbage collection candidates", by_reason, registry=self.registry
        )
        self.gc_reclaimed = Counter(
            "ipam_gc_reclaimed", "Leases and subnets reclaimed", by_reason, registry=self.registry
        )
        self.gc_duration = Histogram(
            "ipam_gc_duration_seconds", "Garbage collection runs", buckets=GC_BUCKETS, registry=self.registry
        )
        self.db_errors = Counter(
            "ipam_db_errors", "Database errors, by SQLSTATE class", ["sqlstate"], registry=self.registry
        )
        self.registry.register(_PoolUsage(list_pools))
        self.registry.register(_ConnectionPool(engine))
        self.registry.register(_RegistryBacklog(engine))
        tx.error_observers.append(self._on_db_error)

    @classmethod
    def of(cls, engine: Engine) -> Metrics:
        """Metrics of a server on `engine`, its pools listed through the pool use case."""
        return cls(engine, lambda: _all_pools(engine))

    def close(self) -> None:
        tx.error_observers.remove(self._on_db_error)

    def _on_db_error(self, exc: DBAPIError) -> None:
        self.db_errors.labels(sqlstate=(tx.sqlstate(exc) or "none")[:2]).inc()

    def observe_gc(self, report: GcReport) -> None:
        """A collection that ran (a dry run changes nothing and is not counted)."""
        if report.dry_run:
            return
        for counter, counts in ((self.gc_candidates, report.candidates), (self.gc_reclaimed, report.reclaimed)):
            for key, count in counts.items():
                kind, reason = key.split(":")
                counter.labels(reason=reason, kind=kind).inc(count)
        self.gc_duration.observe(report.duration_seconds)

    def observe_released(self, items: Iterable[Reclaimed]) -> None:
        """Releases outside a collection (runtime reconciliation, host deletion): each one was a
        candidate and was reclaimed."""
        for item in items:
            for counter in (self.gc_candidates, self.gc_reclaimed):
                counter.labels(reason=item.reason, kind=item.kind).inc()

    def interceptor(self) -> grpc.ServerInterceptor:
        return _RpcMetrics(self)


class _RpcMetrics(ScopeInterceptor):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def scope(self, details: grpc.HandlerCallDetails) -> Scope:
        method = details.method
        metrics = self.metrics

        @contextmanager
        def counted(context: grpc.ServicerContext) -> Iterator[None]:
            try:
                with measured(context) as outcome:
                    yield
            finally:
                metrics.rpcs.labels(method, outcome.code.name).inc()
                metrics.latency.labels(method, outcome.code.name).observe(outcome.seconds)

        return counted


class _PoolUsage(Collector):
    """Addresses and subnets of each pool, by state; read at most every USAGE_CACHE_SECONDS."""

    def __init__(self, list_pools: Callable[[], Iterable[PoolRecord]]) -> None:
        self._list_pools = list_pools
        self._lock = threading.Lock()
        self._read_at = -USAGE_CACHE_SECONDS
        self._pools: list[PoolRecord] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            if time.monotonic() - self._read_at >= USAGE_CACHE_SECONDS:
                self._pools = list(self._list_pools())
                self._read_at = time.monotonic()
            pools = self._pools
        addresses = GaugeMetricFamily("ipam_pool_addresses", "Addresses of a pool by state", labels=["pool", "state"])
        subnets = GaugeMetricFamily("ipam_pool_subnets", "Host subnets of a pool by state", labels=["pool", "state"])
        used = GaugeMetricFamily("ipam_pool_utilization_ratio", "Allocated / assignable addresses", labels=["pool"])
        for pool in pools:
            usage = pool.usage
            if usage is None:
                continue
            for state, value in (
                ("total", usage.total_addresses),
                ("reserved", usage.reserved_addresses),
                ("allocated", usage.allocated_addresses),
                ("cooling", usage.cooling_addresses),
                ("free", usage.free_addresses),
            ):
                addresses.add_metric([pool.name, state], float(value))
            subnets.add_metric([pool.name, "total"], float(usage.total_subnets))
            subnets.add_metric([pool.name, "allocated"], float(usage.allocated_subnets))
            assignable = usage.total_addresses - usage.reserved_addresses
            used.add_metric([pool.name], usage.allocated_addresses / assignable if assignable else 0.0)
        yield from (addresses, subnets, used)


class _RegistryBacklog(Collector):
    """Reclaimed leases whose registry bookkeeping the catch-up worker has yet to do: normally 0,
    for seconds after a dead host's subnet is reclaimed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        _, leases = registry_backlog.pending(self._engine)
        yield GaugeMetricFamily(
            "ipam_registry_backlog_leases", "Reclaimed leases the registry has yet to catch up on", value=leases
        )


class _ConnectionPool(Collector):
    """The SQLAlchemy connection pool, read when scraped."""

    def __init__(self, engine: Engine) -> None:
        self._pool = engine.pool

    def collect(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily("ipam_db_pool_connections", "Database connections by state", labels=["state"])
        if isinstance(self._pool, QueuePool):
            connections.add_metric(["in_use"], float(self._pool.checkedout()))
            connections.add_metric(["idle"], float(self._pool.checkedin()))
            connections.add_metric(["size"], float(self._pool.size()))
            connections.add_metric(["overflow"], float(max(self._pool.overflow(), 0)))
        yield connections


def serve_metrics(metrics: Metrics, listen: str) -> Callable[[], None]:
    """Serve /metrics over HTTP on `listen` ("host:port"); returns how to stop it."""
    from prometheus_client import start_http_server

    host, _, port = listen.rpartition(":")
    try:
        server, thread = start_http_server(int(port), host.strip("[]"), registry=metrics.registry)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {listen}: {exc.strerror or exc}") from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return stop


def _all_pools(engine: Engine) -> Iterator[PoolRecord]:
    from ipam.service.pools import list_pools

    token = ""
    while True:
        page = list_pools(engine, "", 0, token)
        yield from page.items
        if not page.next_token:
            return
        token = page.next_token
