"""The embedded PostgreSQL: start, reuse, stop, and one clear line when the data directory is unusable.

Data directories live in `postgres_tmp_path`, not `tmp_path` (see tests/conftest.py).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

from ipam.embedded import EmbeddedDatabaseError, embedded_database


def _current_database(url: str) -> str:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT current_database()")).scalar_one())
    finally:
        engine.dispose()


def test_starts_creates_the_database_and_stops(postgres_tmp_path: Path) -> None:
    data_dir = postgres_tmp_path / "deep" / "pgdata"
    with embedded_database(data_dir) as url:
        assert url.startswith("postgresql+psycopg://postgres@/ipam?host=")
        assert _current_database(url) == "ipam"
        assert (data_dir / "postmaster.pid").exists()
    assert not (data_dir / "postmaster.pid").exists()

    with embedded_database(data_dir) as url:  # the second start reuses the initialised directory
        assert _current_database(url) == "ipam"
    assert (data_dir / "PG_VERSION").exists()


def test_ephemeral_deletes_its_data(postgres_tmp_path: Path) -> None:
    with embedded_database(postgres_tmp_path / "pgdata", ephemeral=True) as url:
        assert _current_database(url) == "ipam"
    assert not (postgres_tmp_path / "pgdata").exists()


def test_stale_pid_file_does_not_block_start(postgres_tmp_path: Path) -> None:
    data_dir = postgres_tmp_path / "pgdata"
    with embedded_database(data_dir):
        pass
    # As after a crash and a reboot: the pid file names a process that is not postgres (pid 1).
    (data_dir / "postmaster.pid").write_text(f"1\n{data_dir}\n0\n5432\n{data_dir}\n\n  0 0\nready\n")
    with embedded_database(data_dir) as url:
        assert _current_database(url) == "ipam"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "file").touch() or root / "file" / "pgdata", "is not a directory"),
        (lambda root: (root / "file").touch() or root / "file", "exists and is not a directory"),
        (lambda root: (root / "junk").mkdir() or (root / "junk" / "x").touch() or root / "junk", "not empty"),
    ],
    ids=["parent-is-a-file", "data-dir-is-a-file", "not-a-database"],
)
def test_unusable_data_dir_is_one_clear_line(postgres_tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    data_dir = make(postgres_tmp_path)
    with pytest.raises(EmbeddedDatabaseError) as raised, embedded_database(data_dir):
        pass
    assert message in str(raised.value)
    assert str(data_dir) in str(raised.value)
    assert "\n" not in str(raised.value)


def test_incompatible_data_dir_names_the_reason(postgres_tmp_path: Path) -> None:
    data_dir = postgres_tmp_path / "pgdata"
    with embedded_database(data_dir):
        pass
    (data_dir / "PG_VERSION").write_text("9\n")  # as if made by a PostgreSQL this build cannot read
    with pytest.raises(EmbeddedDatabaseError, match="incompatible"), embedded_database(data_dir):
        pass


def test_a_killed_user_does_not_keep_the_server_running(postgres_tmp_path: Path) -> None:
    data_dir = postgres_tmp_path / "pgdata"
    crash = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from ipam.embedded import embedded_database\n"
        "with embedded_database(Path(sys.argv[1])):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(data_dir)], check=False, timeout=60)
    assert (data_dir / "postmaster.pid").exists()  # the server outlived the killed process
    with embedded_database(data_dir) as url:
        assert _current_database(url) == "ipam"
    assert not (data_dir / "postmaster.pid").exists()


def test_parents_are_made_enterable_not_readable(postgres_tmp_path: Path) -> None:
    parent = postgres_tmp_path / "private"
    parent.mkdir(mode=0o700)
    with embedded_database(parent / "pgdata") as url:
        assert _current_database(url) == "ipam"
    mode = stat.S_IMODE(parent.stat().st_mode)
    if os.geteuid() == 0:  # the server ran as another user, who needs to enter, never to list
        assert mode == 0o711, oct(mode)
    else:  # the server ran as us: nothing to change
        assert mode == 0o700, oct(mode)
