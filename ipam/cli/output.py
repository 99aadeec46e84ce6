"""Printing results: a readable table by default, `-o json` and `-o yaml` for scripts.

A list is a table with a row per item; one object (`single=True`) is `key: value` lines, one
per column, since a one-row table of many columns is too wide to read. Timestamps are shown to
the second. JSON and YAML use the protobuf field names (snake_case) and the proto3 JSON mapping,
so field names are stable: they change only with the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

FORMATS = ("table", "json", "yaml")


def add_options(parser: argparse.ArgumentParser, *, listing: bool = False) -> None:
    parser.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format (default: table)")
    if listing:
        parser.add_argument(
            "--limit", type=positive_int, metavar="N", help="show at most N items (pages are followed as needed)"
        )


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return number


def record(message: Message) -> dict[str, Any]:
    """A message as a plain dict with stable field names (unset fields included)."""
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]


def column(header: str, key: str) -> Column:
    """A column showing `key` of each record (dotted for nested fields: "usage.free_addresses")."""
    return Column(header, lambda item: _field(item, key))


def time_column(header: str, key: str) -> Column:
    """A column showing the timestamp `key` of each record to the second ("2026-11-29T20:14:22Z")."""
    return Column(header, lambda item: to_seconds(str(_field(item, key))))


def enum_column(header: str, key: str, prefix: str) -> Column:
    """A column showing the enum `key` by its lower-case name without `prefix` ("LEASE_STATE_ACTIVE" -> "active")."""
    return Column(header, lambda item: str(_field(item, key)).removeprefix(prefix).lower())


def owner_column() -> Column:
    """An owner key as "owner-id/interface" (leases, endpoints)."""
    return Column("owner", lambda item: f"{item.get('owner_id', '')}/{item.get('interface', '')}")


def to_seconds(timestamp: str) -> str:
    """An RFC 3339 timestamp of the proto3 JSON mapping without its fraction of a second."""
    return timestamp.split(".")[0] + "Z" if "." in timestamp else timestamp


def _field(item: Any, key: str) -> Any:
    for part in key.split("."):
        item = item.get(part, "") if isinstance(item, dict) else ""
    return item


def used_fraction(allocated: int, assignable: int) -> Fraction | None:
    """allocated / assignable, exactly; None when nothing is assignable."""
    return Fraction(allocated, assignable) if assignable > 0 else None


def percent(used: Fraction | None) -> str:
    """One decimal; never rounds a non-empty share down to 0% nor a non-full one up to 100%."""
    if used is None:
        return "-"
    if 0 < used < Fraction(1, 1000):
        return "<0.1%"
    if Fraction(999, 1000) < used < 1:
        return ">99.9%"
    return f"{float(used * 100):.1f}%"


def used_percent(usage: Mapping[str, Any]) -> str:
    """USED of a Usage record (counts are decimal strings): allocated / (total - reserved)."""
    try:
        total, reserved, allocated = (
            int(usage.get(key) or 0) for key in ("total_addresses", "reserved_addresses", "allocated_addresses")
        )
    except ValueError:
        return "-"
    return percent(used_fraction(allocated, total - reserved))


def used_column() -> Column:
    """USED of each record's `usage`."""
    return Column("used", lambda item: used_percent(item.get("usage") or {}))


def emit(
    args: argparse.Namespace,
    items: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    single: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Print `items` in the chosen format; `single` prints one object rather than a list
    (in a table, as `key: value` lines)."""
    out = stream or sys.stdout
    data: Any = items[0] if single and items else list(items)
    if args.output == "json":
        json.dump(data, out, indent=2, sort_keys=False)
        out.write("\n")
    elif args.output == "yaml":
        import yaml

        yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False)
    elif single:
        out.write("".join(fields([(c.header, _cell(c.value(item))) for c in columns]) for item in items[:1]))
    else:
        out.write(table([c.header for c in columns], [[_cell(c.value(i)) for c in columns] for i in items]))


def emit_message(args: argparse.Namespace, message: Message, columns: Sequence[Column]) -> None:
    """Print one API message (a pool, a host, ...) in the chosen format."""
    emit(args, [record(message)], columns, single=True)


def emit_messages(args: argparse.Namespace, messages: Iterable[Message], columns: Sequence[Column]) -> None:
    """Print a list of API messages in the chosen format."""
    emit(args, [record(m) for m in messages], columns)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Collection[str] = ()) -> str:
    """Columns two spaces apart under upper-case headers; those named in `right` (numbers) right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        aligned = (c.rjust(w) if h in right else c.ljust(w) for c, w, h in zip(cells, widths, headers, strict=True))
        return "  ".join(aligned).rstrip()

    return "\n".join([line([h.upper() for h in headers]), *(line(row) for row in rows)]) + "\n"


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """One object, vertically: a `key: value` line per pair, the values aligned."""
    width = max((len(key) for key, _ in pairs), default=0) + 1
    return "".join(f"{key + ':':<{width}} {value}\n" for key, value in pairs)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value in ("", None) else str(value)


def count(n: int, noun: str) -> str:
    """`1 lease`, `2 leases`."""
    return f"{n} {noun}" + ("" if n == 1 else "s")
