"""Turning any failure into one line for people: `ipam: error: ...`, never a traceback."""

from __future__ import annotations

import sys


class CliError(Exception):
    """A failure the command explains itself; the message is printed as is."""


class UsageError(Exception):
    """The command line asks for something impossible, found only once a command runs (exit 2).

    main() reports it as argparse does: the command's usage, then `ipam NOUN VERB: error: ...`.
    """


EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3


def exit_code(exc: BaseException) -> int:
    """3 when the IPAM server could not be reached at all, else 1."""
    if "ipam_client" in sys.modules:
        from ipam_client import IpamClientError

        if isinstance(exc, IpamClientError) and not exc.reached_server:
            return EXIT_UNREACHABLE
    return EXIT_FAILURE


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, for any exception a command may raise."""
    from ipam.domain.errors import IpamError
    from ipam.embedded import EmbeddedDatabaseError

    if isinstance(exc, CliError | IpamError | EmbeddedDatabaseError):
        return _one_line(str(exc))
    if "ipam_client" in sys.modules:
        from ipam_client import IpamClientError

        if isinstance(exc, IpamClientError):
            return _one_line(exc.message)
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        if isinstance(exc, DBAPIError):
            return f"database error: {_one_line(str(exc.orig))}"
        if isinstance(exc, SQLAlchemyError):
            return f"database error: {_one_line(str(exc))}"
    if "alembic" in sys.modules:
        from alembic.util import CommandError

        if isinstance(exc, CommandError):
            return f"migrating the database failed: {_one_line(str(exc))}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return f"unexpected {type(exc).__name__}: {_one_line(str(exc))} (run with --log-level debug for details)"


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no details)"
