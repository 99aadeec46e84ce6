"""Issue 16 finding 10: no query outlives its call or its server.

A slow statement is a real one: ListEndpoints waiting for a lock this test holds on the endpoint
table, as a query waits behind a long migration or a stuck transaction. Each test then watches
pg_stat_activity for the server's query on the real PostgreSQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import pytest
from processes import ServerProcessFactory
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from ipam.cli import main
from ipam_client import registry_pb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc

LIST = registry_pb.ListEndpointsRequest()
# The server's ListEndpoints query, running (or waiting for a lock) on PostgreSQL.
RUNNING = text(
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
    "AND query LIKE '%FROM endpoint e JOIN host%' "
    "AND pid <> pg_backend_pid()"
)


def until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Wait for `condition` (a generous bound: the machine may be loaded)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {seconds:g} s"
        time.sleep(0.05)


def running(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(RUNNING).scalars())


@contextmanager
def endpoint_table_locked(engine: Engine) -> Iterator[Connection]:
    """Every read of the endpoint table waits while inside."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text("LOCK TABLE endpoint IN ACCESS EXCLUSIVE MODE"))
        yield conn


def stub(address: str) -> Iterator[registry_pb2_grpc.EndpointServiceStub]:
    with grpc.insecure_channel(address) as channel:
        yield registry_pb2_grpc.EndpointServiceStub(channel)


@pytest.fixture
def endpoints(server: str) -> Iterator[registry_pb2_grpc.EndpointServiceStub]:
    yield from stub(server)


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The status codes the server logged for ListEndpoints calls, in order."""
    caplog.set_level(logging.INFO, logger="ipam.access")

    def codes() -> list[str]:
        fields = [getattr(r, "fields", {}) for r in caplog.records if r.name == "ipam.access"]
        return [f["code"] for f in fields if str(f.get("method", "")).endswith("/ListEndpoints")]

    return codes


def test_a_statement_ends_at_the_calls_deadline(
    engine: Engine, endpoints: registry_pb2_grpc.EndpointServiceStub, access_log: Callable[[], list[str]]
) -> None:
    with endpoint_table_locked(engine):
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as caught:
            endpoints.ListEndpoints(LIST, timeout=2.0)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        until(lambda: not running(engine), "gone from pg_stat_activity")
        print(f"query gone {time.monotonic() - start:.2f} s after a call with a 2 s deadline started")
        until(lambda: access_log() == ["DEADLINE_EXCEEDED"], "answered by the server")
        time.sleep(0.5)
        assert running(engine) == []  # not retried
    assert endpoints.ListEndpoints(LIST, timeout=10).endpoints == []  # the server works on


def test_the_servers_statement_timeout_applies_without_a_deadline(
    engine: Engine, server_process_factory: ServerProcessFactory
) -> None:
    proc = server_process_factory("--statement-timeout", "1s")
    with endpoint_table_locked(engine):
        for endpoints in stub(proc.address):
            with pytest.raises(grpc.RpcError) as caught:
                endpoints.ListEndpoints(LIST, timeout=60)  # only so that the test ends without the fix
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert caught.value.details() == (
                "the database work ran past the server's statement timeout (1 s) and was stopped"
            )
            assert running(engine) == []


def test_a_bad_statement_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--statement-timeout", "soon"])
    assert exited.value.code == 2
    assert "--statement-timeout" in capsys.readouterr().err


def test_a_cancelled_call_leaves_no_running_query(
    engine: Engine, endpoints: registry_pb2_grpc.EndpointServiceStub, access_log: Callable[[], list[str]]
) -> None:
    with endpoint_table_locked(engine):
        call = endpoints.ListEndpoints.future(LIST)
        until(lambda: len(running(engine)) == 1, "running")
        call.cancel()
        until(lambda: not running(engine), "gone from pg_stat_activity after the cancel")
        until(lambda: access_log() == ["CANCELLED"], "answered by the server")


@pytest.mark.parametrize(
    ("operator", "message"),
    [
        ("pg_cancel_backend", "a database administrator cancelled the statement (pg_cancel_backend)"),
        ("pg_terminate_backend", "a database administrator terminated the connection running this call"),
    ],
)
def test_a_query_an_operator_stopped_is_not_run_again(
    engine: Engine, endpoints: registry_pb2_grpc.EndpointServiceStub, operator: str, message: str
) -> None:
    with endpoint_table_locked(engine) as lock:
        call = endpoints.ListEndpoints.future(LIST, timeout=60)
        until(lambda: len(running(engine)) == 1, "running")
        lock.execute(text(f"SELECT {operator}(:pid)"), {"pid": running(engine)[0]})
        with pytest.raises(grpc.RpcError) as caught:
            call.result()
        assert caught.value.code() == grpc.StatusCode.ABORTED
        assert message in str(caught.value.details())
        assert running(engine) == []
    assert endpoints.ListEndpoints(LIST, timeout=10).endpoints == []  # a fresh connection serves the next call


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_a_stopped_or_killed_server_leaves_no_running_query(
    engine: Engine, server_process_factory: ServerProcessFactory, how: str
) -> None:
    proc = server_process_factory()
    with endpoint_table_locked(engine):
        for endpoints in stub(proc.address):
            call = endpoints.ListEndpoints.future(LIST)
            until(lambda: len(running(engine)) == 1, "running")
            proc.stop() if how == "stop" else proc.kill()  # SIGTERM: in-flight calls get 10 s, then cancelled
            exited = time.monotonic()
            until(lambda: not running(engine), "gone from pg_stat_activity after the server exited")
            print(f"server {how}: its query gone {time.monotonic() - exited:.2f} s after it exited")
            assert call.exception() is not None


def test_idle_connections_an_operator_terminated_are_replaced_unseen(
    database_url: str, endpoints: registry_pb2_grpc.EndpointServiceStub
) -> None:
    """Only a running query that was terminated is refused; a pooled idle connection that was
    terminated is replaced before use, and the call succeeds."""
    assert endpoints.ListEndpoints(LIST, timeout=10).endpoints == []
    # The operator, on connections of its own (not the pool the server shares with the tests).
    operator = create_engine(database_url, poolclass=NullPool)
    idle = "FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'ipam' AND state = 'idle'"
    with operator.begin() as conn:
        terminated = conn.execute(text(f"SELECT pid {idle}")).scalars().all()
        conn.execute(text(f"SELECT pg_terminate_backend(pid) {idle}"))
    assert terminated

    def gone() -> bool:
        with operator.connect() as conn:
            alive = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)")
            return conn.execute(alive, {"pids": terminated}).scalar() == 0

    until(gone, "terminated")
    for _ in range(3):
        assert endpoints.ListEndpoints(LIST, timeout=10).endpoints == []
