"""The `ipam` command line: usage errors, one-line failures, and `ipam serve` as a real process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import error_line
from processes import ServerProcessFactory

from ipam.cli import main

SECRET = "s3cret-pw"


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() sets GRPC_VERBOSITY for itself; keep that out of the other tests.
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    monkeypatch.delenv("IPAM_DATABASE_URL", raising=False)


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "usage: ipam" in capsys.readouterr().err


def test_bad_listen_address_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--listen", "50051"])
    assert exited.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_unreachable_database_names_host_and_port_not_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql+psycopg://ipam:{SECRET}@127.0.0.1:1/ipam"
    assert main(["migrate", "--database-url", url]) == 1
    line = error_line(capsys.readouterr().err)
    assert "127.0.0.1:1" in line
    assert SECRET not in line


def test_database_url_from_the_environment(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPAM_DATABASE_URL", f"postgresql://ipam:{SECRET}@127.0.0.1:1/ipam")
    assert main(["migrate"]) == 1
    line = error_line(capsys.readouterr().err)
    assert "127.0.0.1:1" in line and SECRET not in line


def test_other_databases_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database-url", f"mysql://root:{SECRET}@db/ipam"]) == 1
    line = error_line(capsys.readouterr().err)
    assert "postgresql+psycopg://" in line and SECRET not in line


def test_unusable_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").touch()
    assert main(["migrate", "--data-dir", str(tmp_path / "file" / "pgdata")]) == 1
    assert "is not a directory" in error_line(capsys.readouterr().err)


def test_migrate_is_repeatable(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--database-url", database_url]) == 0
    assert main(["migrate", "--database-url", database_url]) == 0
    assert "up to date" in capsys.readouterr().err


def test_serve_announces_itself_and_stops_cleanly_on_sigterm(
    server_process_factory: ServerProcessFactory,
) -> None:
    proc = server_process_factory()
    assert proc.stop() == 0
    output = proc.output()
    assert f"ipam: serving on {proc.address}" in output
    assert "ipam: stopped" in output
    assert "Traceback" not in output


def test_serve_on_a_busy_port_is_one_line(database_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        address = f"127.0.0.1:{busy.getsockname()[1]}"
        done = subprocess.run(
            [sys.executable, "-m", "ipam", "serve", "--database-url", database_url, "--listen", address],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert f"cannot listen on {address}" in line
    assert "in use" in line
