"""The one place that runs a unit of work in a transaction and retries it.

Retried: serialization failures and deadlocks, unique violations on constraints that mean "a
concurrent request won the race, look again" (the caller names them), and a lost connection
(every use case is idempotent, so running it again is safe). A database that stays unreachable
becomes `Unavailable`. A value PostgreSQL cannot take (SQLSTATE class 22: a NUL byte, a number
out of range...) is the caller's mistake: `InvalidArgument`, whichever query met it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ipam.domain.errors import InvalidArgument, Unavailable

T = TypeVar("T")

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
CONNECTION_SQLSTATES = {"57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"}
MAX_ATTEMPTS = 8
# Told of every database error run() sees, retried or not (the server's metrics count them).
error_observers: list[Callable[[DBAPIError], None]] = []


def sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def constraint_name(exc: DBAPIError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def _is_connection_error(exc: DBAPIError) -> bool:
    return (
        exc.connection_invalidated
        or sqlstate(exc) in CONNECTION_SQLSTATES
        or (isinstance(exc, OperationalError) and sqlstate(exc) is None)
    )


def _is_data_error(exc: DBAPIError) -> bool:
    """A value the database cannot store or compare (SQLSTATE class 22, or refused by the driver
    before it was sent, such as a NUL byte in text)."""
    return isinstance(exc, DataError) or (sqlstate(exc) or "").startswith("22")


def run(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    retry_on_constraints: Collection[str] = (),
) -> T:
    """Run `work(conn)` in one transaction, committing on return; retry what is retryable."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except PoolTimeout:
            raise Unavailable("the database is overloaded: no connection free in time") from None
        except IntegrityError as exc:
            _observe(exc)
            if constraint_name(exc) not in retry_on_constraints or attempt == MAX_ATTEMPTS:
                raise
        except DBAPIError as exc:
            _observe(exc)
            if _is_data_error(exc):
                raise InvalidArgument(f"a value in the request is not valid: {_first_line(exc)[:200]}") from None
            if _is_connection_error(exc):
                if attempt >= 3:
                    raise Unavailable(f"the database is unavailable: {_first_line(exc)}") from None
            elif sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                raise
        _backoff(attempt)
    raise AssertionError("unreachable")


@contextmanager
def session(engine: Engine) -> Iterator[Connection]:
    """A connection kept across transactions (for a session-level advisory lock); a database
    that cannot be reached is Unavailable, as in `run`."""
    try:
        with engine.connect() as conn:
            yield conn
    except DBAPIError as exc:
        if _is_connection_error(exc):
            raise Unavailable(f"the database is unavailable: {_first_line(exc)}") from None
        raise


def _observe(exc: DBAPIError) -> None:
    for observer in error_observers:
        observer(exc)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
