"""`ipam usage [POOL]`: utilization per pool and per host subnet, fullest first, with a bar per row."""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from typing import Any, TextIO

from ipam.cli import output, remote
from ipam.cli.commands import add_verb

BAR_WIDTH = 20
# Table abbreviations of big counts: exact below a million, then 3 significant digits.
SUFFIXES = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"))
SCIENTIFIC_FROM = 10**21
COUNTS = ("total_addresses", "reserved_addresses", "allocated_addresses", "cooling_addresses", "free_addresses")
HEADERS = ["pool", "cidr", "host", "total", "reserved", "allocated", "cooling", "free", "used", "bar"]
NUMBERS = {"total", "reserved", "allocated", "cooling", "free", "used"}
EXIT_STATUS = """\
exit status:
  0  printed; with --warn, no pool is at or above the threshold
  1  with --warn, at least one pool is at or above it (one warning line per pool on stderr,
     after the full report); also any failure, e.g. an unknown POOL
  2  usage error
  3  server unreachable

USED is allocated / (total - reserved): the share of the assignable addresses that are leased.
FREE excludes addresses in cooldown (they become assignable when their cooldown ends).
Bar: '#' allocated, '~' in cooldown, '-' free. Big counts are abbreviated in the table
(M=10^6, G=10^9, T=10^12, P=10^15, E=10^18, then scientific notation); -o json and -o yaml
give exact integers and a "warn" boolean per pool."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = add_verb(
        subparsers,
        "usage",
        parents,
        run=run,
        help="show address utilization per pool and host subnet, fullest first",
        examples=[
            "ipam usage",
            "ipam usage prod-v4",
            "ipam usage --warn 80 --pools-only",
            "ipam usage -o json | jq '.[] | select(.warn) | .name'",
        ],
        notes=EXIT_STATUS,
    )
    parser.add_argument("pool", nargs="?", metavar="POOL", help="only this pool (default: every pool)")
    parser.add_argument(
        "--warn",
        type=percent,
        metavar="PERCENT",
        help="warn on stderr, and exit 1, for every pool whose USED is at or above PERCENT",
    )
    parser.add_argument("--pools-only", action="store_true", help="leave out the host subnets")
    output.add_options(parser)


def percent(value: str) -> float:
    try:
        number = float(value.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage between 0 and 100, got {value!r}") from None
    if not 0 <= number <= 100:
        raise argparse.ArgumentTypeError(f"expected a percentage between 0 and 100, got {value!r}")
    return number


def run(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        pools = [ipam.get_pool(args.pool)] if args.pool else ipam.list_pools()
        subnets = [] if args.pools_only else ipam.list_subnets(pool=args.pool or "")
    by_pool: dict[str, list[dict[str, Any]]] = {}
    for s in subnets:
        by_pool.setdefault(s.pool, []).append({"cidr": s.cidr, "host": s.host, **counts(s.usage, with_subnets=False)})
    report = [
        {
            "name": p.name,
            "space": p.space,
            "cidr": p.cidr,
            "disabled": p.disabled,
            **counts(p.usage, with_subnets=True),
            "subnets": sorted(by_pool.get(p.name, []), key=lambda s: (fullness_key(s), s["cidr"])),
        }
        for p in pools
    ]
    report.sort(key=lambda p: (fullness_key(p), p["name"]))
    warned = [p for p in report if args.warn is not None and at_or_above(p, args.warn)]
    warned_names = {p["name"] for p in warned}
    for p in report:
        p["warn"] = p["name"] in warned_names
        if args.pools_only:
            del p["subnets"]
        else:
            p["subnets"] = p.pop("subnets")  # keep the subnets last in json/yaml
    write(args, report)
    for p in warned:
        print(
            f'ipam: warning: pool "{p["name"]}" is {format_percent(p)} used '
            f"({p['allocated_addresses']} of {p['assignable_addresses']} assignable addresses), "
            f"at or above --warn {args.warn:g}%",
            file=sys.stderr,
        )
    return 1 if warned else 0


def counts(usage: Any, *, with_subnets: bool) -> dict[str, Any]:
    """The exact counts of a Usage message (decimal strings on the wire), plus derived fields."""
    row: dict[str, Any] = {key: int(getattr(usage, key) or 0) for key in COUNTS}
    row["assignable_addresses"] = max(row["total_addresses"] - row["reserved_addresses"], 0)
    used = fraction_used(row)
    row["percent_used"] = None if used is None else round(float(used * 100), 2)
    if with_subnets:
        row["total_subnets"] = int(usage.total_subnets)
        row["allocated_subnets"] = int(usage.allocated_subnets)
        row["free_subnets"] = int(usage.free_subnets)
    return row


def fraction_used(row: dict[str, Any]) -> Fraction | None:
    """allocated / assignable, exactly; None when nothing is assignable."""
    return output.used_fraction(row["allocated_addresses"], row["assignable_addresses"])


def fullness_key(row: dict[str, Any]) -> Fraction:
    """Sorts fullest first; rows with nothing assignable go last."""
    used = fraction_used(row)
    return Fraction(1) if used is None else -used


def at_or_above(row: dict[str, Any], threshold: float) -> bool:
    used = fraction_used(row)
    return used is not None and used * 100 >= Fraction(threshold)


def write(args: argparse.Namespace, report: list[dict[str, Any]], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    if args.output != "table":
        output.emit(args, report, [], stream=out)
    elif not report:
        out.write("no pools\n")
    else:
        out.write(table(report))


def table(report: list[dict[str, Any]]) -> str:
    """A row per pool, each followed by a row per host subnet (indented under CIDR)."""
    rows: list[list[str]] = []
    for p in report:
        name = p["name"] + (" (disabled)" if p["disabled"] else "")
        rows.append([name, p["cidr"], "", *cells(p)])
        rows += [["", "  " + s["cidr"], s["host"] or "-", *cells(s)] for s in p.get("subnets", [])]
    return output.table(HEADERS, rows, right=NUMBERS)


def cells(row: dict[str, Any]) -> list[str]:
    return [*(humanize(row[key]) for key in COUNTS), format_percent(row), bar(row)]


def humanize(count: int) -> str:
    """Exact below a million, then 3 significant digits with a decimal suffix, then 1.21e+24."""
    if count >= SCIENTIFIC_FROM:
        return f"{count:.2e}"
    for unit, suffix in SUFFIXES:
        if count >= unit:
            scaled = count / unit
            digits = 0 if scaled >= 100 else 1 if scaled >= 10 else 2
            return f"{scaled:.{digits}f}{suffix}"
    return str(count)


def format_percent(row: dict[str, Any]) -> str:
    return output.percent(fraction_used(row))


def bar(row: dict[str, Any]) -> str:
    """`[###~~-----]`: allocated, in cooldown, free, of the assignable addresses."""
    assignable = row["assignable_addresses"]
    if not assignable:
        return "[" + " " * BAR_WIDTH + "]"
    allocated = min(BAR_WIDTH * row["allocated_addresses"] // assignable, BAR_WIDTH)
    if row["allocated_addresses"] and not allocated:
        allocated = 1  # something is leased: show it
    cooling = min(BAR_WIDTH * row["cooling_addresses"] // assignable, BAR_WIDTH - allocated)
    if row["cooling_addresses"] and not cooling and allocated < BAR_WIDTH:
        cooling = 1
    return "[" + "#" * allocated + "~" * cooling + "-" * (BAR_WIDTH - allocated - cooling) + "]"
