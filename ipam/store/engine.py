"""Creating the SQLAlchemy engine from a database URL."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

from ipam.domain.errors import InvalidArgument
from ipam.store.connections import (
    APPLICATION_NAME,
    DEFAULT_POOL_SIZE,
    MIN_POOL_SIZE,
    POOL_RECYCLE_SECONDS,
    POOL_TIMEOUT_SECONDS,
)


def normalize_url(url: str) -> str:
    """Accept postgres:// and postgresql:// and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith("postgresql+psycopg://"):
        raise InvalidArgument(f"database URL must start with postgresql+psycopg:// (got {redact(url)!r})")
    return url


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


CONNECT_TIMEOUT_SECONDS = 5
# Keys of what a pooled connection knows about itself (SQLAlchemy's connection .info).
POSTMASTER_START = "ipam_postmaster_start"
STATEMENT_TIMEOUT = "ipam_statement_timeout"
# PostgreSQL checks this often whether the client of a running query is still there: the
# queries of a server that died end within this time, not when they finish.
CLIENT_CHECK_MS = 1000


def make_engine(
    url: str,
    *,
    pool_size: int = DEFAULT_POOL_SIZE,
    statement_timeout: float = 0,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
) -> Engine:
    """An engine of at most `pool_size` connections (no overflow: a call waits up to
    `pool_timeout` seconds for one) whose statements end after `statement_timeout` seconds (0: no
    limit). Its connections are named by the URL's application_name, else "ipam"."""
    if pool_size < MIN_POOL_SIZE:
        raise InvalidArgument(f"the connection pool needs at least {MIN_POOL_SIZE} connections (got {pool_size})")
    url = normalize_url(url)
    query = make_url(url).query
    options = f"-c client_connection_check_interval={CLIENT_CHECK_MS}"
    if statement_timeout > 0:
        options += f" -c statement_timeout={_milliseconds(statement_timeout)}"
    # connect_args override the URL's query: keep what the URL gives. libpq spends connect_timeout
    # on each host of a multi-host URL, so an operator may well want it shorter; options add up.
    connect_args: dict[str, object] = {"application_name": application_name(url), "options": options}
    if "connect_timeout" not in query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    if "options" in query:
        connect_args["options"] = f"{query['options']} {options}"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=pool_timeout,
        pool_recycle=POOL_RECYCLE_SECONDS,
        connect_args=connect_args,
    )

    @event.listens_for(engine, "connect")
    def remember(dbapi_connection: Any, record: Any) -> None:
        # Which postmaster this backend belongs to: a connection terminated while the same
        # postmaster still runs was ended by an operator, not by a restart (see ipam.store.tx).
        record.info[POSTMASTER_START] = dbapi_connection.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        dbapi_connection.rollback()
        record.info[STATEMENT_TIMEOUT] = statement_timeout

    @event.listens_for(engine, "checkout")
    def alive(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # No pre-ping (a round trip per transaction); but an idle connection with something to
        # read was closed by its backend (terminated, or a restart): replace it before use.
        # Costs one poll, no round trip.
        try:
            closed = _readable(dbapi_connection.pgconn.socket)
        except Exception:  # no socket at all: lost
            closed = True
        if closed:
            raise DisconnectionError("the database closed this idle connection")

    return engine


def _readable(socket: int) -> bool:
    """Whether `socket` has something to read, without waiting. poll, not select: a server
    holding a fleet's connections has descriptors past select's limit of 1,024."""
    poller = select.poll()
    poller.register(socket, select.POLLIN)
    return bool(poller.poll(0))


def application_name(url: str) -> str:
    """The URL's application_name (an operator may name each replica so), else "ipam"."""
    name = make_url(url).query.get("application_name")
    return name if isinstance(name, str) and name else APPLICATION_NAME


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))
