"""`ipam host create|list|show|update|drain|undrain|delete`: hosts, their labels (which pools'
selectors match) and their liveness."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb, key_value
from ipam.cli.errors import CliError, UsageError
from ipam.cli.output import column, enum_column, time_column

if TYPE_CHECKING:
    from ipam_client import IpamClient, pb

COLUMNS = [
    column("name", "name"),
    enum_column("state", "state", "HOST_STATE_"),
    column("labels", "labels"),
    time_column("last heartbeat", "last_seen_time"),
    column("ttl", "heartbeat_ttl_seconds"),
    time_column("drained", "drain_time"),
    time_column("created", "create_time"),
]


def label_key(value: str) -> str:
    if not value or "=" in value:
        raise argparse.ArgumentTypeError(f"expected a label KEY (without =VALUE), got {value!r}")
    return value


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "host",
        parents,
        help="hosts and their labels",
        description="Hosts: nodes that acquire host subnets; pools choose hosts by label selectors.",
    )
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="register a new host",
        examples=["ipam host create node-1", "ipam host create node-2 --label zone=a --label env=prod"],
    )
    create.add_argument("name")
    _label_option(create)
    output.add_options(create)

    listing = add_verb(
        verbs, "list", parents, run=run_list, help="list hosts", examples=["ipam host list", "ipam host list -o yaml"]
    )
    output.add_options(listing, listing=True)

    show = add_verb(
        verbs, "show", parents, run=run_show, help="show a host", examples=["ipam host show node-1 -o json"]
    )
    show.add_argument("name")
    output.add_options(show)

    update = add_verb(
        verbs,
        "update",
        parents,
        run=run_update,
        help="change a host's labels",
        examples=[
            "ipam host update node-1 --label zone=b   # adds or changes zone, keeps the other labels",
            "ipam host update node-1 --remove-label env",
            "ipam host update node-1 --replace --label zone=a   # zone=a becomes the only label",
        ],
    )
    update.add_argument("name")
    _label_option(update)
    update.add_argument(
        "--remove-label",
        action="extend",
        nargs="+",
        type=label_key,
        default=[],
        metavar="KEY",
        help="remove this label (repeatable)",
    )
    update.add_argument("--replace", action="store_true", help="replace every label with the --label ones")
    output.add_options(update)

    drain = add_verb(
        verbs,
        "drain",
        parents,
        run=run_drain,
        help="stop new allocations to a host (what it holds stays)",
        examples=["ipam host drain node-1", "ipam host drain node-1 && ipam host delete node-1"],
    )
    drain.add_argument("name")
    output.add_options(drain)

    undrain = add_verb(
        verbs,
        "undrain",
        parents,
        run=run_undrain,
        help="allow new allocations to a drained host again",
        examples=["ipam host undrain node-1"],
    )
    undrain.add_argument("name")
    output.add_options(undrain)

    delete = add_verb(
        verbs,
        "delete",
        parents,
        run=run_delete,
        help="release everything a drained or dead host holds and forget it",
        description="Release every lease and host subnet of a host and forget it. Only a drained host "
        "(`ipam host drain`) or a dead one (silent past the server's grace period): a live host may be "
        "starting containers. What is released is recorded in `ipam gc history` (host_deleted). A host "
        "subnet in which other hosts hold addresses (borrowed, docs/address-ownership.md) is kept, and "
        "the host with it, drained, until those leases end. An agent still running on the host "
        "registers it again at its next heartbeat.",
        examples=["ipam host drain node-1 && ipam host delete node-1", "ipam host delete node-7 -o json"],
    )
    delete.add_argument("name")
    output.add_options(delete)


def _label_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--label",
        dest="labels",
        action="extend",
        nargs="+",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="a label (repeatable)",
    )


def run_create(args: argparse.Namespace) -> int:
    from ipam_client import NotFound

    with remote.connect(args) as ipam:
        try:
            ipam.get_host(args.name)
        except NotFound:
            pass
        else:
            raise CliError(f'host "{args.name}" already exists (change its labels with `ipam host update`)')
        host = ipam.register_host(args.name, dict(args.labels))
    output.emit_message(args, host, COLUMNS)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        hosts = remote.first(args.limit, ipam.iter_hosts)
    output.emit_messages(args, hosts, COLUMNS)
    return 0


def _host_verb(call: Callable[[IpamClient, str], pb.Host]) -> Callable[[argparse.Namespace], int]:
    """A verb that calls `call(client, NAME)` and shows the host it returns."""

    def run(args: argparse.Namespace) -> int:
        with remote.connect(args) as ipam:
            host = call(ipam, args.name)
        output.emit_message(args, host, COLUMNS)
        return 0

    return run


run_show = _host_verb(lambda ipam, name: ipam.get_host(name))
run_drain = _host_verb(lambda ipam, name: ipam.drain_host(name))
run_undrain = _host_verb(lambda ipam, name: ipam.undrain_host(name))


def run_update(args: argparse.Namespace) -> int:
    if not args.labels and not args.remove_label and not args.replace:
        raise UsageError("nothing to update: give --label, --remove-label or --replace")
    if args.replace and args.remove_label:
        raise UsageError("--remove-label makes no sense with --replace (only the --label ones are kept)")
    with remote.connect(args) as ipam:
        # Registering replaces the labels and creates unknown hosts: look the host up first.
        current = ipam.get_host(args.name)
        labels = {} if args.replace else dict(current.labels)
        for key in args.remove_label:
            if labels.pop(key, None) is None:
                print(f'ipam: warning: host "{args.name}" has no label "{key}"', file=sys.stderr)
        labels.update(args.labels)
        host = ipam.register_host(args.name, labels)
    output.emit_message(args, host, COLUMNS)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from ipam.cli.gc import ITEM_COLUMNS
    from ipam.cli.subnets import kept_line

    with remote.connect(args) as ipam:
        reply = ipam.delete_host(args.name)
    if args.output == "table":
        leases = sum(1 for item in reply.released if item.kind == "lease")
        subnets = len(reply.released) - leases
        released = f"{output.count(leases, 'lease')} and {output.count(subnets, 'host subnet')}"
        print(f'deleted host "{args.name}", released {released}')
        for kept in reply.kept:
            print(f"{kept_line(kept)}; the host stays listed, drained, until they end")
        if reply.kept_for_history:
            print("the host stays listed, drained and holding nothing: the endpoint history refers to it")
        if reply.released:
            output.emit_messages(args, reply.released, ITEM_COLUMNS)
    else:
        output.emit_message(args, reply, ITEM_COLUMNS)
    return 0
