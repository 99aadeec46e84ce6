"""Choosing the database for a command: a given URL, or the embedded PostgreSQL."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ipam.cli.errors import CliError

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

URL_ENV = "IPAM_DATABASE_URL"
CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Database:
    url: str
    label: str  # for people: never holds a password


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("database")
    group.add_argument(
        "--database-url",
        metavar="URL",
        default=os.environ.get(URL_ENV) or None,
        help=f"PostgreSQL to use, postgresql+psycopg://user:password@host:5432/db (default: ${URL_ENV}; "
        "without either, an embedded PostgreSQL is started)",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        help="data directory of the embedded PostgreSQL (default: the user's data directory, "
        "e.g. ~/.local/share/ipam/pgdata); ignored with --database-url",
    )


@contextmanager
def open_database(args: argparse.Namespace) -> Iterator[Database]:
    """The database the command should use, reachable; an embedded one runs until the block ends."""
    if args.database_url:
        from ipam.store.engine import normalize_url, redact

        url = normalize_url(args.database_url)
        check_connection(url)
        yield Database(url=url, label=redact(url))
        return

    from ipam.embedded import default_data_dir, embedded_database

    data_dir = (args.data_dir or default_data_dir()).expanduser().resolve()
    with embedded_database(data_dir) as url:
        yield Database(url=url, label=f"embedded at {data_dir}")


def check_connection(url: str) -> None:
    """Connect once, so an unreachable database is one clear line naming where we tried."""
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError

    try:
        parsed = make_url(url)
        engine = create_engine(url, poolclass=pool.NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    except (ArgumentError, ValueError) as exc:
        raise CliError(f"invalid database URL: {exc}") from exc
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise CliError(f"cannot connect to PostgreSQL at {_where(parsed)}: {_reason(exc.orig)}") from exc
    finally:
        engine.dispose()


def _where(url: URL) -> str:
    host = url.host or url.query.get("host")
    if isinstance(host, tuple):
        host = ",".join(host)
    if not host:
        place = "the local unix socket"
    elif str(host).startswith("/"):
        place = f"unix socket in {host}"
    else:
        place = f"{host}:{url.port or 5432}"
    return f"{place} (database {url.database or '?'!r}, user {url.username or '?'!r})"


def _reason(exc: BaseException | None) -> str:
    """The useful tail of a libpq message, e.g. `Connection refused` or `password authentication failed`."""
    text = str(exc or "").strip()
    first = text.splitlines()[0] if text else "unknown error"
    reason = first.rsplit("failed: ", 1)[-1]
    for prefix in ("FATAL:", "ERROR:"):
        if reason.startswith(prefix):
            reason = reason[len(prefix) :]
    return reason.strip() or first
