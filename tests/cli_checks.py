"""Helpers shared by the command line tests (tests/test_cli*.py).

The `ipam_cli` fixture they use lives in conftest.py: it runs `ipam ARGS...` as a subprocess
against the in-process server.
"""

from __future__ import annotations

from collections.abc import Callable
from subprocess import CompletedProcess

Cli = Callable[..., CompletedProcess[str]]


def ok(result: CompletedProcess[str]) -> str:
    """The output of a command that succeeded quietly (nothing on stderr)."""
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def error_line(stderr: str) -> str:
    """The single `ipam: error: ...` line a failure prints (no traceback, nothing else)."""
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("ipam: error: "), stderr
    return lines[0]


def one_error_line(result: CompletedProcess[str], code: int) -> str:
    """The single `ipam: error: ...` line of a command that failed with `code` (nothing on stdout)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    return error_line(result.stderr)


def usage_error(result: CompletedProcess[str]) -> str:
    """The last line of a usage error (exit 2, after the usage), which names what was wrong."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("usage: ipam ")
    return result.stderr.splitlines()[-1]


def rows(table: str) -> list[list[str]]:
    """A table's lines, split into words."""
    return [line.split() for line in table.splitlines()]


def fields(text: str) -> dict[str, str]:
    """`key: value` lines (one object in table format) as a dict."""
    pairs = (line.split(":", 1) for line in text.splitlines() if line.strip())
    return {key: value.strip() for key, value in pairs}
