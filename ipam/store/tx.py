"""The one place that runs a unit of work in a transaction and retries it.

Retried: serialization failures and deadlocks, unique violations on constraints that mean "a
concurrent request won the race, look again" (the caller names them), and a lost connection
(every use case is idempotent, so running it again is safe). A database that stays unreachable
becomes `Unavailable`; a call that finds none of the pool's connections free in time, `Overloaded`
(retryable too). A value PostgreSQL cannot take (SQLSTATE class 22: a NUL byte, a number
out of range...) is the caller's mistake: `InvalidArgument`, whichever query met it.

Never retried: a statement stopped by its timeout (`DeadlineExceeded`), by the caller cancelling
(`Cancelled`), or by an operator (`Interrupted`): pg_cancel_backend, or pg_terminate_backend,
told from a restart by the postmaster still being the same one. Each transaction's statements
end when the caller's call ends, by its deadline or a cancel (see ipam.store.call), and by the
engine's statement timeout.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from ipam.domain.errors import Cancelled, DeadlineExceeded, Interrupted, InvalidArgument, Overloaded, Unavailable
from ipam.store import call as calls
from ipam.store.engine import POSTMASTER_START, STATEMENT_TIMEOUT
from ipam.store.sql import WROTE_EVENTS

T = TypeVar("T")

RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
CONNECTION_SQLSTATES = {"57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"}
QUERY_CANCELED, ADMIN_SHUTDOWN = "57014", "57P01"
MAX_ATTEMPTS = 8
# Told of every database error run() sees, retried or not (the server's metrics count them).
error_observers: list[Callable[[DBAPIError], None]] = []
# Told after a transaction that may have written endpoint events committed (see ipam.store.sql):
# the event hub wakes its sequencer. Called on the committing thread: must not block.
commit_observers: list[Callable[[], None]] = []


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
    call = calls.current()
    terminated_on: Any = None  # the postmaster of a connection that was terminated
    for attempt in range(1, MAX_ATTEMPTS + 1):
        _check_time(call)
        started, limit, postmaster = time.monotonic(), None, None
        try:
            with engine.begin() as conn:
                postmaster = conn.info.get(POSTMASTER_START)
                if terminated_on is not None and postmaster == terminated_on:
                    raise Interrupted(
                        "a database administrator terminated the connection running this call "
                        "(pg_terminate_backend); it is not run again"
                    )
                limit = conn.info.get(STATEMENT_TIMEOUT) or None
                conn.info.pop(WROTE_EVENTS, None)  # left over from a rolled-back transaction
                with nullcontext() if call is None else call.running(conn.connection.driver_connection):
                    result = work(conn)
                wrote_events = conn.info.pop(WROTE_EVENTS, False)
            if wrote_events:  # committed
                for observer in commit_observers:
                    observer()
            return result
        except PoolTimeout:
            raise _overloaded(engine) from None
        except IntegrityError as exc:
            _observe(exc)
            if constraint_name(exc) not in retry_on_constraints or attempt == MAX_ATTEMPTS:
                raise
        except DBAPIError as exc:
            _observe(exc)
            if sqlstate(exc) == QUERY_CANCELED:
                raise _stopped(call, limit, time.monotonic() - started) from None
            if _is_data_error(exc):
                raise InvalidArgument(f"a value in the request is not valid: {_first_line(exc)[:200]}") from None
            if _is_connection_error(exc):
                if sqlstate(exc) == ADMIN_SHUTDOWN:
                    terminated_on = postmaster  # a restart, or an operator: the next attempt tells
                if attempt >= 3:
                    raise Unavailable(f"the database is unavailable: {_first_line(exc)}") from None
            elif sqlstate(exc) not in RETRYABLE_SQLSTATES or attempt == MAX_ATTEMPTS:
                raise
        _backoff(attempt)
    raise AssertionError("unreachable")


def _check_time(call: calls.Call | None) -> None:
    if call is not None and call.expired():
        raise DeadlineExceeded("the call's deadline passed before its database work was done")
    if call is not None and call.cancelled:
        raise Cancelled(calls.CANCELLED)


def _stopped(call: calls.Call | None, limit: float | None, elapsed: float) -> Exception:
    """Why PostgreSQL cancelled a statement (57014 for each, and the message is localised). A
    call's deadline is not a statement timeout (a SET LOCAL would cost every transaction a round
    trip): grpc ends the call when it passes, and the call's end cancels its statement."""
    if call is not None and call.expired():  # grpc also cancels a call whose deadline passed
        return DeadlineExceeded("the call's deadline passed during its database work, which was stopped")
    if call is not None and call.cancelled:
        return Cancelled(f"{calls.CANCELLED}; its statement was stopped")
    if limit is not None and elapsed >= limit:
        return DeadlineExceeded(
            f"the database work ran past the server's statement timeout ({limit:.3g} s) and was stopped"
        )
    return Interrupted("a database administrator cancelled the statement (pg_cancel_backend); it is not run again")


@contextmanager
def session(engine: Engine) -> Iterator[Connection]:
    """A connection kept across transactions (for a session-level advisory lock); a database
    that cannot be reached is Unavailable, as in `run`."""
    try:
        with engine.connect() as conn:
            yield conn
    except PoolTimeout:
        raise _overloaded(engine) from None
    except DBAPIError as exc:
        if _is_connection_error(exc):
            raise Unavailable(f"the database is unavailable: {_first_line(exc)}") from None
        raise


def _overloaded(engine: Engine) -> Overloaded:
    pool = engine.pool
    size, within = "its", ""
    if isinstance(pool, QueuePool):
        size, within = f"its {pool.size()}", f" within {pool.timeout():g} s"
    return Overloaded(
        f"this server is overloaded: none of {size} database connections came free{within} "
        "(ipam serve --db-pool-size); retry, or on another replica"
    )


def _observe(exc: DBAPIError) -> None:
    for observer in error_observers:
        observer(exc)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
