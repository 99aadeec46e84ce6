"""`ipam subnet create|list|show|release`: host subnets, the slices of a pool each host allocates from."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.errors import CliError, UsageError
from ipam.cli.output import column, time_column, used_column
from ipam.cli.remote import DEFAULT_SPACE

if TYPE_CHECKING:
    from ipam_client import pb

COLUMNS = [
    column("cidr", "cidr"),
    column("pool", "pool"),
    column("space", "space"),
    column("host", "host"),
    column("gateway", "gateway"),
    column("allocated", "usage.allocated_addresses"),
    column("cooling", "usage.cooling_addresses"),
    column("free", "usage.free_addresses"),
    used_column(),
    time_column("created", "create_time"),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "subnet",
        parents,
        help="host subnets (a pool's slices, one per host and pool)",
        description="Host subnets: each host acquires a subnet of a pool and allocates its addresses from it.",
    )
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="acquire a host subnet for a host (returns the host's subnet when it still has room)",
        examples=[
            "ipam subnet create --host node-1 --pool prod-v4",
            "ipam subnet create --host node-1 --space tenant-a --family 6   # first matching enabled IPv6 pool",
        ],
    )
    create.add_argument("--host", required=True)
    where = create.add_mutually_exclusive_group()
    where.add_argument("--pool", default="", help="the pool to carve the subnet from")
    where.add_argument(
        "--space",
        default="",
        help="without --pool: the first enabled pool of this space matching the host's labels (default: default)",
    )
    create.add_argument("--family", type=int, choices=(4, 6), default=0, help="without --pool: only IPv4 or IPv6 pools")
    output.add_options(create)

    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list host subnets with their usage",
        examples=["ipam subnet list", "ipam subnet list --pool prod-v4", "ipam subnet list --host node-1 -o json"],
    )
    listing.add_argument("--pool", default="", help="only the subnets of this pool")
    listing.add_argument("--host", default="", help="only the subnets of this host")
    output.add_options(listing, listing=True)

    show = add_verb(
        verbs,
        "show",
        parents,
        run=run_show,
        help="show a host subnet and its usage",
        examples=["ipam subnet show 10.1.4.0/24", "ipam subnet show fd00:1:0:7::/64 --space tenant-a -o yaml"],
    )
    show.add_argument("cidr")
    remote.add_space_option(show)
    output.add_options(show)

    release = add_verb(
        verbs,
        "release",
        parents,
        run=run_release,
        help="release a host subnet back to its pool",
        examples=[
            "ipam subnet release 10.1.4.0/24",
            "ipam subnet release 10.1.4.0/24 --force   # also releases its host's active leases",
        ],
    )
    release.add_argument("cidr")
    remote.add_space_option(release)
    release.add_argument(
        "--force",
        action="store_true",
        help="release even when the subnet holds active leases of its host; other hosts' leases in it "
        "(borrowed addresses) are never released: the subnet then stays (docs/address-ownership.md)",
    )


def run_create(args: argparse.Namespace) -> int:
    if args.pool and args.family:
        raise UsageError("argument --family: not allowed with argument --pool (the pool has one family)")
    with remote.connect(args) as ipam:
        subnet = ipam.acquire_subnet(args.host, args.pool, space=args.space, family=args.family)
    output.emit_message(args, subnet, COLUMNS)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        subnets = remote.first(args.limit, ipam.iter_subnets, args.pool, args.host)
    output.emit_messages(args, subnets, COLUMNS)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ipam.domain.network import parse_cidr

    network = parse_cidr("cidr", args.cidr)
    space = args.space or DEFAULT_SPACE
    with remote.connect(args) as ipam:
        # The server finds subnets by an address they hold; the one holding the network address
        # is the subnet asked for only when its CIDR is the same.
        holding = ipam.list_subnets(address=str(network.network_address), space=args.space)
    for subnet in holding:
        if subnet.cidr == str(network):
            output.emit_message(args, subnet, COLUMNS)
            return 0
    hint = "".join(f' ({s.cidr} of pool "{s.pool}", host "{s.host}", holds that address)' for s in holding)
    raise CliError(f'no host subnet {network} in address space "{space}"{hint}')


def run_release(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        reply = ipam.release_subnet(args.cidr, space=args.space, force=args.force)
    if not reply.HasField("kept"):
        print(f'host subnet {args.cidr} released from address space "{args.space or DEFAULT_SPACE}"')
        return 0
    addresses = f" ({', '.join(reply.released)})" if reply.released else ""
    print(f"released {output.count(len(reply.released), 'lease')} of host subnet {reply.kept.cidr}{addresses}")
    print(f"{kept_line(reply.kept)}; release the subnet again once they end")
    return 0


SHOWN_BORROWED = 5


def kept_line(kept: pb.KeptSubnet) -> str:
    """`kept CIDR: N leases of other hosts (ADDRESS held by OWNER on HOST, ...)`."""
    held = [f"{b.address} held by {b.owner_id}/{b.interface} on {b.host}" for b in kept.borrowed[:SHOWN_BORROWED]]
    if len(kept.borrowed) > SHOWN_BORROWED:
        held.append(f"{len(kept.borrowed) - SHOWN_BORROWED} more")
    return f"kept {kept.cidr}: {output.count(len(kept.borrowed), 'lease')} of other hosts ({', '.join(held)})"
