"""`ipam gc [--dry-run] [--grace D] [--host H]` and `ipam gc history`: garbage collection."""

from __future__ import annotations

import argparse
from typing import Any

from ipam.cli import output, remote
from ipam.cli.commands import add_verb
from ipam.cli.durations import duty, whole_seconds
from ipam.cli.output import Column, column, enum_column, time_column

REASONS = ("dead_host", "runtime_gone", "empty_subnet", "host_deleted")

ITEM_COLUMNS = [
    enum_column("reason", "reason", "GC_REASON_"),
    column("kind", "kind"),
    column("host", "host"),
    column("pool", "pool"),
    column("target", "target"),
    Column("owner", lambda item: f"{item['owner_id']}/{item['interface']}" if item.get("owner_id") else "-"),
]
COUNT_COLUMNS = [
    enum_column("reason", "reason", "GC_REASON_"),
    column("kind", "kind"),
    column("candidates", "candidates"),
    column("reclaimed", "reclaimed"),
]


def _of_item(inner: Column) -> Column:
    """`inner` applied to a history record's `item`."""
    return Column(inner.header, lambda record: inner.value(record.get("item") or {}))


HISTORY_COLUMNS = [
    column("id", "id"),
    time_column("time", "time"),
    *[_of_item(c) for c in ITEM_COLUMNS],
    column("detail", "detail"),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    collect = add_verb(
        subparsers,
        "gc",
        parents,
        run=run_gc,
        help="reclaim leaked leases and host subnets now; `ipam gc history` shows what was reclaimed",
        description="Run garbage collection now, on the server (one replica at a time; the server also "
        "runs it every --gc-interval). It reclaims the leases of hosts silent longer than the grace "
        "period, then their host subnets, and empty host subnets beyond a host's newest one per pool "
        "(any of a drained host) that stayed empty for the grace period. Nothing younger than the grace "
        "period is touched, and each candidate is checked again when it is reclaimed.",
        examples=[
            "ipam gc --dry-run            # what would be reclaimed",
            "ipam gc --grace 1h --host node-7",
            "ipam gc --duty 0.3           # slower, leaving most of the database to allocations",
            "ipam gc -o json",
            "ipam gc history --limit 20",
        ],
    )
    collect.add_argument("--dry-run", action="store_true", help="report what would be reclaimed; change nothing")
    collect.add_argument(
        "--grace",
        type=whole_seconds,
        metavar="DURATION",
        help="e.g. 15m, 1h, 2d (default: the server's --gc-grace, 15m unless set)",
    )
    collect.add_argument("--host", default="", help="only this host")
    collect.add_argument(
        "--duty",
        type=duty,
        metavar="FRACTION",
        help="the share of time it works, 0.05 .. 1; below 1 it rests between its transactions, leaving the "
        "database's CPU to allocations (default: the server's --gc-duty, 1 unless set)",
    )
    output.add_options(collect)

    verbs = collect.add_subparsers(title="verbs", metavar="history", required=False)
    history = add_verb(
        verbs,
        "history",
        parents,
        run=run_history,
        help="what garbage collection reclaimed (and host deletions released), newest first",
        examples=["ipam gc history", "ipam gc history --host node-7 --reason dead_host -o json"],
    )
    history.add_argument("--host", default="", help="only this host's")
    history.add_argument("--reason", choices=REASONS, help="only this reason")
    output.add_options(history, listing=True)


def run_gc(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        report = ipam.run_gc(dry_run=args.dry_run, grace_seconds=args.grace, host=args.host, duty=args.duty or 0.0)
    if args.output != "table":
        output.emit_message(args, report, ITEM_COLUMNS)
        return 0
    seconds = report.duration.ToTimedelta().total_seconds()
    done = "would reclaim" if report.dry_run else "reclaimed"
    total = sum(count.candidates if report.dry_run else count.reclaimed for count in report.counts)
    grace = report.grace.ToTimedelta()
    print(
        f"{'dry run: ' if report.dry_run else ''}{done} {output.count(total, 'item')} (grace {grace}, {seconds:.2f} s)"
    )
    if report.counts:
        output.emit_messages(args, report.counts, COUNT_COLUMNS)
    if report.items:
        print()
        output.emit_messages(args, report.items, ITEM_COLUMNS)
    return 0


def run_history(args: argparse.Namespace) -> int:
    from ipam_client import pb

    reason = pb.GcReason.Value(f"GC_REASON_{args.reason.upper()}") if args.reason else pb.GC_REASON_UNSPECIFIED
    with remote.connect(args) as ipam:
        records = remote.first(args.limit, ipam.iter_gc_records, args.host, reason)
    output.emit_messages(args, records, HISTORY_COLUMNS)
    return 0
