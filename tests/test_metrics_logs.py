"""Prometheus metrics after a few RPCs, and the access log: one JSON line per call, no secrets."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator

import grpc
import pytest
from api_checks import allocate, fails
from processes import ServerProcessFactory, free_port
from prometheus_client import generate_latest
from sqlalchemy import Engine, text

from ipam.server.metrics import Metrics
from ipam_client import IpamClient, NotFound, Unauthenticated, pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc

NewToken = Callable[..., str]


@pytest.fixture
def metrics(engine: Engine) -> Iterator[Metrics]:
    metrics = Metrics.of(engine)
    yield metrics
    metrics.close()


def test_metrics_count_rpcs_leases_and_pool_usage(engine: Engine, metrics: Metrics) -> None:
    from ipam.server.app import ServerOptions, create_server

    server, port = create_server(engine, "127.0.0.1:0", ServerOptions(), metrics)
    try:
        with IpamClient(f"127.0.0.1:{port}", retries=0) as ipam:
            ipam.create_pool("p", "10.0.0.0/24", 26)
            ipam.register_host("h1")
            kept = allocate(ipam, "c1")
            allocate(ipam, "c1")  # the same owner again: no new lease
            allocate(ipam, "c2")
            ipam.release_owner("c2", "eth0")
            with fails(NotFound):
                ipam.get_pool("missing")
    finally:
        server.stop(0).wait()
    text = generate_latest(metrics.registry).decode()
    allocate_ok = 'method="/ipam.v1.LeaseService/Allocate"'
    assert f'ipam_rpc_requests_total{{code="OK",{allocate_ok}}} 3.0' in text
    assert 'ipam_rpc_requests_total{code="NOT_FOUND",method="/ipam.v1.PoolService/GetPool"} 1.0' in text
    assert f'ipam_rpc_duration_seconds_count{{code="OK",{allocate_ok}}} 3.0' in text
    assert f'ipam_rpc_duration_seconds_bucket{{code="OK",le="+Inf",{allocate_ok}}} 3.0' in text
    assert "ipam_leases_allocated_total 2.0" in text
    assert "ipam_leases_released_total 1.0" in text
    assert 'ipam_pool_addresses{pool="p",state="allocated"} 1.0' in text
    assert 'ipam_pool_subnets{pool="p",state="total"} 4.0' in text
    assert 'ipam_pool_utilization_ratio{pool="p"}' in text
    assert 'ipam_db_pool_connections{state="in_use"}' in text
    assert "ipam_registry_backlog_leases 0.0" in text
    assert kept.address


def test_metrics_count_garbage_collection(engine: Engine, metrics: Metrics) -> None:
    from ipam.server.app import ServerOptions, create_server

    server, port = create_server(engine, "127.0.0.1:0", ServerOptions(), metrics)
    try:
        with IpamClient(f"127.0.0.1:{port}", retries=0) as ipam:
            ipam.create_pool("p", "10.0.0.0/24", 26)
            ipam.register_host("h1")
            allocate(ipam, "c1", host="h1")
            with engine.begin() as conn:
                conn.execute(text("UPDATE lease SET allocated_at = now() - interval '2 hours'"))
                conn.execute(text("UPDATE host_subnet SET created_at = now() - interval '2 hours'"))
                conn.execute(text("UPDATE host SET last_seen_at = now() - interval '2 hours'"))
            ipam.run_gc(grace_seconds=3600, dry_run=True)  # not counted: it changes nothing
            ipam.run_gc(grace_seconds=3600)
            # Releases outside a collection count by their reasons too.
            ipam.register_host("h2")
            allocate(ipam, "c2", host="h2")
            allocate(ipam, "c3", host="h2")
            ipam.reconcile_host("h2", [("c3", "eth0")])  # the runtime no longer has c2
            ipam.drain_host("h2")
            ipam.delete_host("h2")  # c3 and h2's subnet
    finally:
        server.stop(0).wait()
    text_ = generate_latest(metrics.registry).decode()
    assert 'ipam_gc_reclaimed_total{kind="lease",reason="runtime_gone"} 1.0' in text_
    assert 'ipam_gc_candidates_total{kind="lease",reason="runtime_gone"} 1.0' in text_
    assert 'ipam_gc_reclaimed_total{kind="lease",reason="host_deleted"} 1.0' in text_
    assert 'ipam_gc_reclaimed_total{kind="subnet",reason="host_deleted"} 1.0' in text_
    assert 'ipam_gc_candidates_total{kind="lease",reason="dead_host"} 1.0' in text_
    assert 'ipam_gc_reclaimed_total{kind="lease",reason="dead_host"} 1.0' in text_
    assert 'ipam_gc_reclaimed_total{kind="subnet",reason="dead_host"} 1.0' in text_
    assert "ipam_gc_duration_seconds_count 1.0" in text_


def test_json_access_log_and_metrics_of_a_real_server(
    server_process_factory: ServerProcessFactory, new_token: NewToken
) -> None:
    admin = new_token("admin", name="ops")
    bogus = f"ipam_{'0' * 16}_{'f' * 64}"
    metrics_address = f"127.0.0.1:{free_port()}"
    proc = server_process_factory("--auth", "--log-format", "json", "--metrics-listen", metrics_address)
    with IpamClient(proc.address, admin, retries=0) as ipam:
        ipam.create_pool("p", "10.0.0.0/24", 26)
    with grpc.insecure_channel(proc.address) as channel:
        metadata = (("authorization", f"Bearer {admin}"), ("x-request-id", "req-42"))
        rpc.PoolServiceStub(channel).GetPool(pb.GetPoolRequest(name="p"), metadata=metadata, timeout=10)
    with IpamClient(proc.address, bogus, retries=0) as intruder, fails(Unauthenticated):
        intruder.list_pools()
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=10) as reply:
        scraped = reply.read().decode()
    assert 'ipam_rpc_requests_total{code="UNAUTHENTICATED",method="/ipam.v1.PoolService/ListPools"} 1.0' in scraped
    assert proc.stop() == 0

    output = proc.output()
    assert admin not in output and bogus not in output
    assert admin.split("_")[2] not in output and bogus.split("_")[2] not in output  # nor the secrets
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    calls = [r for r in records if r["logger"] == "ipam.access" and r["method"].startswith("/ipam.v1.")]
    assert [(r["method"].rsplit("/", 1)[1], r["code"], r.get("caller")) for r in calls] == [
        ("CreatePool", "OK", "ops"),
        ("GetPool", "OK", "ops"),
        ("ListPools", "UNAUTHENTICATED", None),
    ]
    assert calls[1]["request_id"] == "req-42"
    for call in calls:
        assert call["peer"].startswith("ipv4:127.0.0.1:")
        assert call["duration_ms"] >= 0 and call["level"] == "info"
    assert calls[0]["request_id"] and calls[0]["request_id"] != calls[2]["request_id"]
