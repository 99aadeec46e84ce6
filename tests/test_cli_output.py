"""The admin commands' shared pieces, without a server: output layouts, progress, paging, usage errors."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ipam.cli import main, output, progress, remote
from ipam.cli.output import column, time_column, used_column

COLUMNS = [column("name", "name"), column("free", "usage.free_addresses"), used_column(), time_column("at", "t")]
ITEM = {
    "name": "p",
    "usage": {
        "total_addresses": "256",
        "reserved_addresses": "6",
        "allocated_addresses": "25",
        "free_addresses": "225",
    },
    "t": "2026-11-29T20:14:22.123456Z",
}


def _emit(fmt: str, items: list[dict[str, Any]], *, single: bool = False) -> str:
    out = io.StringIO()
    output.emit(argparse.Namespace(output=fmt), items, COLUMNS, single=single, stream=out)
    return out.getvalue()


def test_a_list_is_a_table_and_one_object_key_value_lines() -> None:
    assert _emit("table", [ITEM, {"name": "q"}]) == (
        "NAME  FREE  USED   AT\np     225   10.0%  2026-11-29T20:14:22Z\nq     -     -      -\n"
    )
    assert _emit("table", [ITEM], single=True) == "name: p\nfree: 225\nused: 10.0%\nat:   2026-11-29T20:14:22Z\n"
    # JSON is the record as it is, times and all.
    assert json.loads(_emit("json", [ITEM], single=True)) == ITEM
    assert json.loads(_emit("json", [ITEM])) == [ITEM]


def test_table_right_aligns_the_columns_named() -> None:
    text = output.table(["name", "count"], [["a", "5"], ["bb", "100"]], right={"count"})
    assert text == "NAME  COUNT\na         5\nbb      100\n"


@pytest.mark.parametrize(
    ("allocated", "assignable", "shown"),
    [(0, 10, "0.0%"), (1, 10**6, "<0.1%"), (999_999, 10**6, ">99.9%"), (10, 10, "100.0%"), (0, 0, "-")],
)
def test_percent_never_rounds_to_empty_or_full(allocated: int, assignable: int, shown: str) -> None:
    assert output.percent(output.used_fraction(allocated, assignable)) == shown


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_grows_its_total_when_more_items_come_than_estimated() -> None:
    out = _Terminal()
    with progress.progress("reading", total=10, stream=out) as advance:
        for _ in range(12):
            advance(1)
    drawn = out.getvalue().split("\r")[1:]
    assert drawn[-1] == f"reading [{'#' * 30}] 100% (12/12)\n"
    assert all("/10)" in text or "(12/12)" in text for text in drawn)
    assert not any(f"{more}%" in text for text in drawn for more in range(101, 130))


def test_progress_is_silent_off_a_terminal() -> None:
    out = io.StringIO()
    with progress.progress("reading", total=10, stream=out) as advance:
        advance(20)
    assert out.getvalue() == ""


def test_first_asks_for_pages_no_bigger_than_the_limit_and_reads_no_further() -> None:
    asked: list[int] = []
    read: list[int] = []

    def iterate(prefix: str, *, page_size: int) -> Iterator[str]:
        asked.append(page_size)
        for i in range(10_000):
            read.append(i)
            yield f"{prefix}{i}"

    assert remote.first(3, iterate, "x") == ["x0", "x1", "x2"]
    assert (asked, read) == ([3], [0, 1, 2])
    assert remote.first(5000, iterate, "y")[-1] == "y4999"
    assert asked[-1] == remote.MAX_PAGE_SIZE
    assert len(remote.first(None, iterate, "z")) == 10_000 and asked[-1] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pool", "update", "p"], "ipam pool update: error: nothing to update: give --cooldown"),
        (["host", "update", "h", "--replace", "--remove-label", "a"], "ipam host update: error: --remove-label makes"),
        (["subnet", "create", "--host", "h", "--pool", "p", "--family", "4"], "ipam subnet create: error: argument"),
        (["lease", "release"], "ipam lease release: error: give exactly one of ADDRESS, --owner ID, or --all"),
    ],
)
def test_a_usage_error_found_by_a_command_is_reported_like_argparse(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)
    assert main([*argv, "--server", "127.0.0.1:1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    usage, *_, last = captured.err.splitlines()
    assert usage.startswith(f"usage: {' '.join(['ipam', *argv[:2]])} ")
    assert last.startswith(message)


def test_notes_follow_the_examples_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["usage", "--help"], ["check", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        text = capsys.readouterr().out
        assert "\n\nexit status:\n  0  " in text
        assert text.index("examples:\n") < text.index("exit status:")
    with pytest.raises(SystemExit):
        main(["lease", "release", "--help"])
    assert "Give exactly one of ADDRESS, --owner ID, or --all." in capsys.readouterr().out
