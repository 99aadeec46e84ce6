"""Printing results: a readable table by default, `-o json` and `-o yaml` for scripts.

JSON and YAML use the protobuf field names (snake_case) and the proto3 JSON mapping, so field
names are stable: they change only with the API.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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

    def value(item: dict[str, Any]) -> Any:
        for part in key.split("."):
            item = item.get(part, "") if isinstance(item, dict) else ""
        return item

    return Column(header, value)


def emit(
    args: argparse.Namespace,
    items: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    *,
    single: bool = False,
    stream: TextIO | None = None,
) -> None:
    """Print `items` in the chosen format; `single` prints one object rather than a list."""
    out = stream or sys.stdout
    data: Any = items[0] if single and items else list(items)
    if args.output == "json":
        json.dump(data, out, indent=2, sort_keys=False)
        out.write("\n")
    elif args.output == "yaml":
        import yaml

        yaml.safe_dump(data, out, sort_keys=False, default_flow_style=False)
    else:
        out.write(table([c.header for c in columns], [[_cell(c.value(i)) for c in columns] for i in items]))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in sorted(value.items())) or "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value in ("", None) else str(value)
