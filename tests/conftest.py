"""Shared fixtures: one PostgreSQL per session, a clean database per test, servers in and out of process.

The database is `IPAM_TEST_DATABASE_URL` when set (the tests own it: its public schema is dropped at
session start), else an embedded PostgreSQL in a temporary directory. The schema comes from the
Alembic migrations, exactly as in production.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import pytest
from processes import ServerProcess, ServerProcessFactory, free_port, wait_until_serving
from sqlalchemy import Engine, create_engine, pool, text

from ipam.embedded import embedded_database
from ipam.store.engine import make_engine, normalize_url
from ipam.store.migrate import upgrade
from ipam_client import IpamClient

if TYPE_CHECKING:
    from ipam.devca import DevCa
    from ipam.server.app import ServerOptions

TEST_URL_ENV = "IPAM_TEST_DATABASE_URL"
# What the first migration seeds; truncation removes it, so each test gets it back.
DEFAULT_SPACE_SQL = "INSERT INTO address_space (name, description) VALUES ('default', 'The default address space')"


# --- CI: a skipped test is a failed test --------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _fail_skips_in_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _fail_skips_in_ci(report)
    return report


def _fail_skips_in_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped while CI is set (CI must run every test): {reason}"


# --- the database -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated, empty database for the whole session."""
    given = os.environ.get(TEST_URL_ENV)
    if given:
        url = normalize_url(given)
        _prepare(url)
        yield url
        return
    # Not under pytest's tmp_path: see postgres_tmp_path.
    parent = Path(tempfile.mkdtemp(prefix="ipam-test-pg-"))
    try:
        with embedded_database(parent / "pgdata", ephemeral=True) as url:
            _prepare(url)
            yield url
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def postgres_tmp_path() -> Iterator[Path]:
    """An empty directory for an embedded PostgreSQL's data; use it instead of `tmp_path`.

    As root the server runs as another user, which must traverse every parent directory, and
    pytest resets its own temporary root to mode 0700 whenever a pytest session starts; a
    concurrent session would then lock the server out of a data directory under `tmp_path`.
    """
    path = Path(tempfile.mkdtemp(prefix="ipam-test-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _prepare(url: str) -> None:
    """Start from nothing, then migrate as production does."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    # Tests hold connections of their own besides the in-process servers' calls: a pool larger
    # than a replica's default (the pool of `ipam serve` is tested in test_connections.py).
    engine = make_engine(database_url, pool_size=20)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT quote_ident(tablename) FROM pg_tables "
                "WHERE schemaname = 'public' AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        )
        return [row[0] for row in rows]


@pytest.fixture(autouse=True)
def clean_db(request: pytest.FixtureRequest) -> None:
    """Empty every table (but the default address space) before each test that uses the database.

    Tests that need no database (pure domain maths, the client against a fake server) do not pay
    for one: this only acts when the test asks, directly or not, for `database_url`.
    """
    if "database_url" not in request.fixturenames:
        return
    engine: Engine = request.getfixturevalue("engine")
    tables: list[str] = request.getfixturevalue("_tables")
    with engine.begin() as conn:
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        conn.execute(text(DEFAULT_SPACE_SQL))


# --- servers ------------------------------------------------------------------------------------


@contextmanager
def in_process_server(engine: Engine, options: ServerOptions | None = None) -> Iterator[str]:
    """A server in this process on a free port, with `options`; yields its address, "127.0.0.1:PORT"."""
    from ipam.server.app import ServerOptions, create_server

    grpc_server, port = create_server(engine, "127.0.0.1:0", options or ServerOptions())
    try:
        yield f"127.0.0.1:{port}"
    finally:
        grpc_server.stop(grace=1).wait()


@pytest.fixture
def server(engine: Engine) -> Iterator[str]:
    """An in-process server on a free port; yields its address, "127.0.0.1:PORT"."""
    with in_process_server(engine) as address:
        yield address


@pytest.fixture
def auth_server(engine: Engine) -> Iterator[str]:
    """An in-process server with --auth on; make tokens for it with `new_token`."""
    from ipam.server.app import ServerOptions

    with in_process_server(engine, ServerOptions(auth=True)) as address:
        yield address


@pytest.fixture(scope="session")
def dev_ca(tmp_path_factory: pytest.TempPathFactory) -> DevCa:
    """A development CA with server (localhost, 127.0.0.1) and client certificates, as `ipam cert dev-ca` writes."""
    from ipam.devca import write_dev_ca

    return write_dev_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(engine: Engine, dev_ca: DevCa) -> Iterator[str]:
    """An in-process server speaking TLS with the dev CA's server certificate."""
    from ipam.server.app import ServerOptions
    from ipam.server.tls import ServerTls

    with in_process_server(engine, ServerOptions(tls=ServerTls(dev_ca.server_cert, dev_ca.server_key))) as address:
        yield address


@pytest.fixture
def mtls_server(engine: Engine, dev_ca: DevCa) -> Iterator[str]:
    """As tls_server, and clients must present a certificate signed by the dev CA."""
    from ipam.server.app import ServerOptions
    from ipam.server.tls import ServerTls

    tls = ServerTls(dev_ca.server_cert, dev_ca.server_key, dev_ca.ca_cert)
    with in_process_server(engine, ServerOptions(tls=tls)) as address:
        yield address


@pytest.fixture
def new_token(engine: Engine) -> Callable[..., str]:
    """`new_token(role, host="", name=...) -> token text`, made in the database as `ipam token create
    --database-url` does."""
    from ipam.service.tokens import create_token

    made = itertools.count()

    def create(role: str, host: str = "", name: str = "") -> str:
        return create_token(engine, name or f"{role}-{next(made)}", role, host).token

    return create


@pytest.fixture
def server_process_factory(database_url: str, tmp_path: Path) -> Iterator[ServerProcessFactory]:
    """Start real `ipam serve` processes on the test database: `start(*extra_args, address=None)`."""
    started: list[ServerProcess] = []

    def start(*extra_args: str, address: str | None = None) -> ServerProcess:
        address = address or f"127.0.0.1:{free_port()}"
        log_path = tmp_path / f"server-{len(started)}.log"
        command = [sys.executable, "-m", "ipam", "serve", "--database-url", database_url, "--listen", address]
        with log_path.open("wb") as log:
            process = subprocess.Popen([*command, *extra_args], stdout=log, stderr=subprocess.STDOUT)
        started.append(ServerProcess(address, process, log_path))
        wait_until_serving(started[-1])
        return started[-1]

    yield start
    for proc in started:
        proc.stop()


# --- clients of the in-process server -----------------------------------------------------------


@pytest.fixture
def client(server: str) -> Iterator[IpamClient]:
    """An IpamClient of the in-process server that does not retry, so each failure shows at once."""
    with IpamClient(server, retries=0) as ipam:
        yield ipam


@pytest.fixture
def channel(server: str) -> Iterator[grpc.Channel]:
    """A raw channel to the in-process server, for looking at single pages and sending what the client would not."""
    with grpc.insecure_channel(server) as raw:
        yield raw


# --- the ipam command line ----------------------------------------------------------------------


@pytest.fixture
def ipam_cli(server: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `ipam ARGS...` as a subprocess against the in-process server (IPAM_SERVER is set)."""

    def run(
        *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "IPAM_SERVER": server, **(env or {})}
        environment.pop("IPAM_TOKEN", None)
        return subprocess.run(
            [sys.executable, "-m", "ipam", *args],
            env=environment,
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
