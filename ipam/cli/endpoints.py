"""`ipam endpoint list|show|watch` and `ipam whois IP [--at TIME]`: the endpoint registry."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.output import Column, column, enum_column, owner_column, time_column

if TYPE_CHECKING:
    from ipam_client import registry_pb

DEFAULT_INTERFACE = "eth0"
STATES = ("active", "deleted", "all")


def _addresses(item: dict[str, Any]) -> list[str]:
    return [a.get("address", "") for a in item.get("addresses", [])]


LIST_COLUMNS = [
    column("id", "id"),
    owner_column(),
    column("host", "host"),
    column("network", "network"),
    Column("addresses", _addresses),
    enum_column("state", "state", "ENDPOINT_STATE_"),
    column("labels", "labels"),
]
DETAIL_COLUMNS = [
    column("id", "id"),
    owner_column(),
    column("host", "host"),
    column("network", "network"),
    column("mac", "mac"),
    Column("addresses", _addresses),
    enum_column("state", "state", "ENDPOINT_STATE_"),
    column("labels", "labels"),
    time_column("created", "create_time"),
    time_column("updated", "update_time"),
    time_column("deleted", "delete_time"),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "endpoint",
        parents,
        help="endpoints: who holds which addresses, with labels, and a stream of changes",
        description="Endpoints: one per container (or sandbox) interface on a host, with its addresses "
        "(both families), network, MAC and labels. Every lease belongs to one.",
    )
    _register_list(verbs, parents)
    _register_show(verbs, parents)
    _register_watch(verbs, parents)
    _register_whois(subparsers, parents)


def _register_list(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list endpoints, optionally filtered",
        examples=[
            "ipam endpoint list",
            "ipam endpoint list --host node-1 --network pods",
            "ipam endpoint list --selector 'app=web,tier!=db' -o json",
            "ipam endpoint list --pool prod-v4 --state all --limit 20",
        ],
    )
    _add_filters(listing)
    listing.add_argument("--state", choices=STATES, default="active", help="(default: active)")
    output.add_options(listing, listing=True)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="", help="only endpoints of this host")
    parser.add_argument("--network", default="", help="only endpoints of this network")
    parser.add_argument("--pool", default="", help="only endpoints holding an address of this pool")
    parser.add_argument(
        "--selector",
        default="",
        metavar="SELECTOR",
        help="label selector: k=v, k!=v, k (has), !k (has not), comma-separated",
    )


def _register_show(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    show = add_verb(
        verbs,
        "show",
        parents,
        run=run_show,
        help="show the live endpoint of an owner, or any endpoint by id",
        examples=[
            "ipam endpoint show 3f2a9c0d",
            "ipam endpoint show 3f2a9c0d --interface net1 -o yaml",
            "ipam endpoint show --id 42",
        ],
    )
    show.add_argument("owner", nargs="?", default="", metavar="OWNER", help="owner id (container or sandbox id)")
    show.add_argument("--interface", default=DEFAULT_INTERFACE, help=f"(default: {DEFAULT_INTERFACE})")
    show.add_argument("--id", type=output.positive_int, default=0, help="an endpoint id (also a deleted endpoint)")
    output.add_options(show)


def _register_watch(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    watch = add_verb(
        verbs,
        "watch",
        parents,
        run=run_watch,
        help="print every endpoint change as it is committed, in order, until interrupted",
        examples=[
            "ipam endpoint watch",
            "ipam endpoint watch --since 1200 -o json     # resume after revision 1200, one JSON object a line",
            "ipam endpoint watch --since 0 --limit 10     # the first ten changes kept, then exit",
            "ipam endpoint watch --selector app=web --network pods   # only what 'endpoint list' with them shows",
        ],
        description="Print every endpoint change (added, updated, removed) in commit order, each with its "
        "revision, until Ctrl-C. Reconnects by itself and resumes after the last revision printed. "
        "With -o json, one JSON object per line (revision, type, time, endpoint). With filters (those of "
        "'endpoint list'), only the changes of the endpoints they select: 'added' when one starts to match "
        "(also by a change of its labels), 'removed' when one stops matching or is deleted, 'updated' while "
        "it still matches.",
        notes="exit status:\n  1  --since names pruned changes or a revision ahead of the newest (list again);\n"
        "     a bad --selector; no such --host or --pool\n"
        "  3  the server could not be reached",
    )
    _add_filters(watch)
    watch.add_argument(
        "--since", type=int, metavar="REV", help="changes after this revision (default: from now on; 0: all kept)"
    )
    watch.add_argument(
        "--limit", type=output.positive_int, metavar="N", help="exit after N changes (default: run until interrupted)"
    )
    watch.add_argument("-o", "--output", choices=("table", "json"), default="table", help="(default: table)")


def _register_whois(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    whois = add_verb(
        subparsers,
        "whois",
        parents,
        run=run_whois,
        help="which endpoint holds an address, or held it at a past time",
        examples=[
            "ipam whois 10.4.7.19",
            'ipam whois 10.4.7.19 --at "2026-11-28T14:02:00Z"',
            "ipam whois fd00::5 -o json",
        ],
        notes="exit status:\n  1  nobody held it then (or a bad address or time)\n  3  the server could not be reached",
    )
    whois.add_argument("address")
    whois.add_argument(
        "--at", type=timestamp, metavar="TIME", help="RFC 3339 time, e.g. 2026-11-28T14:02:00Z (UTC if no zone)"
    )
    remote.add_space_option(whois)
    output.add_options(whois)


def timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a time such as 2026-11-28T14:02:00Z, got {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_list(args: argparse.Namespace) -> int:
    from ipam_client import registry_pb

    state = {"active": registry_pb.ENDPOINT_STATE_ACTIVE, "deleted": registry_pb.ENDPOINT_STATE_DELETED}
    with remote.connect(args) as ipam:
        found = remote.first(
            args.limit,
            ipam.iter_endpoints,
            args.host,
            args.network,
            args.pool,
            args.selector,
            state.get(args.state, registry_pb.ENDPOINT_STATE_UNSPECIFIED),
        )
    output.emit_messages(args, found, LIST_COLUMNS)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ipam.cli.errors import UsageError

    if bool(args.owner) == bool(args.id):
        raise UsageError("give either OWNER or --id")
    with remote.connect(args) as ipam:
        found = ipam.get_endpoint(id=args.id) if args.id else ipam.get_endpoint(args.owner, args.interface)
    output.emit_message(args, found, DETAIL_COLUMNS)
    return 0


def run_watch(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        events = ipam.watch_endpoints(
            args.since, host=args.host, network=args.network, pool=args.pool, label_selector=args.selector
        )
        for count, event in enumerate(events, 1):
            print(_event_line(args, event), flush=True)
            if count == args.limit:
                break
    return 0


def _event_line(args: argparse.Namespace, event: registry_pb.EndpointEvent) -> str:
    item = output.record(event)
    if args.output == "json":
        return json.dumps(item)
    endpoint = item["endpoint"]
    kind = str(item["type"]).removeprefix("ENDPOINT_EVENT_TYPE_").lower()
    labels = ",".join(f"{k}={v}" for k, v in sorted(endpoint.get("labels", {}).items())) or "-"
    addresses = ",".join(_addresses(endpoint)) or "-"
    owner = owner_column().value(endpoint)
    return (
        f"{item['revision']} {output.to_seconds(item['time'])} {kind} {owner} host={endpoint['host']} "
        f"network={endpoint['network'] or '-'} addresses={addresses} labels={labels}"
    )


def run_whois(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        found = ipam.lookup_address(args.address, args.space, args.at)
    if args.output != "table":
        output.emit_message(args, found, [])
        return 0
    columns = [
        *DETAIL_COLUMNS,
        time_column("held from", "held_from"),
        Column("held until", lambda item: output.to_seconds(str(item.get("held_until") or "")) or "(still held)"),
    ]
    item = {**output.record(found.endpoint), "held_from": output.record(found)["held_from"]}
    if found.HasField("held_until"):
        item["held_until"] = output.record(found)["held_until"]
    output.emit(args, [item], columns, single=True, stream=sys.stdout)
    return 0
