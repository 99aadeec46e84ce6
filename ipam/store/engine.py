"""Creating the SQLAlchemy engine from a database URL."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from ipam.domain.errors import InvalidArgument


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


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    url = normalize_url(url)
    connect_args: dict[str, object] = {"application_name": "ipam"}
    # connect_args override the URL's query: keep a connect_timeout the URL gives (libpq spends
    # it on each host of a multi-host URL, so an operator may well want it shorter).
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    # No pre-ping: it costs a round trip per transaction; ipam.store.tx retries a dead connection.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, connect_args=connect_args)
