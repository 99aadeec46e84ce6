"""A server holding a fleet's connections has more than 1,024 descriptors open: the engine's
check of an idle pooled connection must work with a socket past select()'s limit."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from ipam.store.engine import make_engine

PAST_SELECT_LIMIT = 1100


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    """Descriptors 3..1100 taken, so that the next sockets are numbered past 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < PAST_SELECT_LIMIT + 100:
        pytest.skip(f"the descriptor limit ({hard}) is too low to open more than {PAST_SELECT_LIMIT}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, PAST_SELECT_LIMIT + 100), hard))
    taken = [os.open(os.devnull, os.O_RDONLY) for _ in range(PAST_SELECT_LIMIT)]
    try:
        yield
    finally:
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_pooled_connections_with_high_descriptors_are_reused(database_url: str, many_descriptors: None) -> None:
    engine = make_engine(database_url, pool_size=2)
    try:
        pids = set()
        for _ in range(5):  # each transaction checks the idle connection out again
            with engine.connect() as conn:
                assert conn.connection.dbapi_connection.pgconn.socket > 1024  # type: ignore[union-attr]
                pids.add(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        assert len(pids) == 1  # one connection, reused: not taken for closed and replaced
    finally:
        engine.dispose()
