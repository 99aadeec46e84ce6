"""`ipam pool create|list|show|update|delete|disable|enable`: address pools carved into host subnets."""

from __future__ import annotations

import argparse
from typing import Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.errors import UsageError
from ipam.cli.output import Column, column, time_column, used_column

GATEWAYS = {"first-usable": "GATEWAY_POLICY_FIRST_USABLE", "none": "GATEWAY_POLICY_NONE"}
GATEWAY_NAMES = {proto: cli for cli, proto in GATEWAYS.items()}


def _subnets(item: dict[str, Any]) -> str:
    usage = item.get("usage") or {}
    return f"{usage.get('allocated_subnets', 0)}/{usage.get('total_subnets', 0)}"


def _host_prefix(item: dict[str, Any]) -> str:
    return f"/{item.get('host_prefix_length', '')}"


def _gateway(item: dict[str, Any]) -> str:
    return GATEWAY_NAMES.get(item.get("gateway_policy", ""), "")


def _max_per_host(item: dict[str, Any]) -> str:
    return str(item.get("max_subnets_per_host") or "unlimited")


LIST_COLUMNS = [
    column("name", "name"),
    column("space", "space"),
    column("cidr", "cidr"),
    Column("host prefix", _host_prefix),
    Column("subnets", _subnets),
    column("allocated", "usage.allocated_addresses"),
    column("free", "usage.free_addresses"),
    used_column(),
    column("selector", "host_selector"),
    column("disabled", "disabled"),
]

SETTINGS_COLUMNS = [
    column("name", "name"),
    column("space", "space"),
    column("cidr", "cidr"),
    Column("host prefix", _host_prefix),
    Column("gateway", _gateway),
    column("reserved", "reserved_cidrs"),
    column("selector", "host_selector"),
    column("cooldown", "cooldown_seconds"),
    Column("max per host", _max_per_host),
    column("disabled", "disabled"),
    time_column("created", "create_time"),
]

USAGE_COLUMNS = [
    Column("subnets", _subnets),
    column("free subnets", "usage.free_subnets"),
    column("addresses", "usage.total_addresses"),
    column("reserved", "usage.reserved_addresses"),
    column("allocated", "usage.allocated_addresses"),
    column("cooling", "usage.cooling_addresses"),
    column("free", "usage.free_addresses"),
    used_column(),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "pool",
        parents,
        help="address pools, carved into host subnets",
        description=(
            "Address pools: a CIDR of an address space, carved into host subnets of --host-prefix-length "
            "that hosts acquire and allocate addresses from."
        ),
    )
    _register_create(verbs, parents)

    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list pools with their usage",
        examples=["ipam pool list", "ipam pool list --space tenant-a -o json"],
    )
    listing.add_argument("--space", default="", help="only the pools of this address space (default: every space)")
    output.add_options(listing, listing=True)

    show = add_verb(
        verbs,
        "show",
        parents,
        run=run_show,
        help="show a pool's settings and usage",
        examples=["ipam pool show prod-v4", "ipam pool show prod-v4 -o yaml"],
    )
    show.add_argument("name")
    output.add_options(show)

    _register_update(verbs, parents)

    delete = add_verb(
        verbs,
        "delete",
        parents,
        run=run_delete,
        help="delete a pool and its host subnets",
        examples=["ipam pool delete old-v4", "ipam pool delete old-v4 --force   # also releases its active leases"],
    )
    delete.add_argument("name")
    delete.add_argument("--force", action="store_true", help="delete even when the pool holds active leases")

    for verb, disabled, text in (
        ("disable", True, "stop allocating from a pool (existing leases stay)"),
        ("enable", False, "allocate from a disabled pool again"),
    ):
        toggle = add_verb(verbs, verb, parents, run=run_toggle, help=text, examples=[f"ipam pool {verb} prod-v4"])
        toggle.add_argument("name")
        output.add_options(toggle)
        toggle.set_defaults(disabled=disabled)


def _register_create(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="create a pool",
        examples=[
            "ipam pool create prod-v4 10.1.0.0/16 --host-prefix-length 24",
            "ipam pool create prod-v6 fd00:1::/48 --host-prefix-length 64 --selector 'zone=a,env!=dev'",
            "ipam pool create lab 192.168.0.0/22 --host-prefix-length 26 --space lab --reserve 192.168.0.0/28 "
            "--cooldown 300 --max-subnets-per-host 2 --gateway none --disabled",
        ],
    )
    create.add_argument("name")
    create.add_argument("cidr", help="the pool's network, e.g. 10.1.0.0/16 or fd00:1::/48")
    create.add_argument(
        "--host-prefix-length",
        type=int,
        required=True,
        metavar="N",
        help="prefix length of each host subnet, e.g. 24 (IPv4) or 64 (IPv6)",
    )
    remote.add_space_option(create)
    create.add_argument(
        "--reserve",
        action="extend",
        nargs="+",
        default=[],
        metavar="CIDR",
        help="CIDRs inside the pool never handed out (repeatable)",
    )
    create.add_argument(
        "--selector", default="", metavar="SELECTOR", help="host label selector, e.g. 'zone=a,env!=dev' (default: all)"
    )
    create.add_argument(
        "--cooldown", type=int, default=0, metavar="SECONDS", help="before a released address is reused (default: 0)"
    )
    create.add_argument(
        "--max-subnets-per-host",
        type=int,
        default=0,
        metavar="N",
        help="host subnets per host (default: 0 = unlimited)",
    )
    create.add_argument(
        "--gateway",
        choices=list(GATEWAYS),
        default="first-usable",
        help="reserve the first usable address of each host subnet as its gateway, or none (default: first-usable)",
    )
    create.add_argument("--disabled", action="store_true", help="create the pool disabled (no allocations)")
    output.add_options(create)


def _register_update(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    update = add_verb(
        verbs,
        "update",
        parents,
        run=run_update,
        help="change a pool's settings",
        examples=[
            "ipam pool update prod-v4 --cooldown 600 --max-subnets-per-host 4",
            "ipam pool update prod-v4 --selector ''   # match every host",
            "ipam pool update prod-v4 --reserve 10.1.0.0/28 10.1.255.0/24   # replaces the reserved CIDRs",
            "ipam pool update prod-v4 --clear-reserved",
        ],
    )
    update.add_argument("name")
    update.add_argument("--cooldown", type=int, metavar="SECONDS", help="before a released address is reused")
    update.add_argument("--max-subnets-per-host", type=int, metavar="N", help="host subnets per host (0 = unlimited)")
    update.add_argument("--selector", metavar="SELECTOR", help="host label selector ('' matches every host)")
    reserved = update.add_mutually_exclusive_group()
    reserved.add_argument(
        "--reserve",
        action="extend",
        nargs="+",
        metavar="CIDR",
        help="replace the reserved CIDRs with these",
    )
    reserved.add_argument("--clear-reserved", action="store_true", help="remove every reserved CIDR")
    output.add_options(update)


def run_create(args: argparse.Namespace) -> int:
    from ipam_client import pb

    with remote.connect(args) as ipam:
        created = ipam.create_pool(
            args.name,
            args.cidr,
            args.host_prefix_length,
            space=args.space,
            reserved_cidrs=args.reserve,
            host_selector=args.selector,
            disabled=args.disabled,
            cooldown_seconds=args.cooldown,
            max_subnets_per_host=args.max_subnets_per_host,
            gateway_policy=pb.GatewayPolicy.Value(GATEWAYS[args.gateway]),
        )
    _emit_pool(args, created)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        pools = remote.first(args.limit, ipam.iter_pools, args.space)
    output.emit_messages(args, pools, LIST_COLUMNS)
    return 0


def run_show(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        pool = ipam.get_pool(args.name)
    _emit_pool(args, pool)
    return 0


def run_update(args: argparse.Namespace) -> int:
    reserved = [] if args.clear_reserved else args.reserve
    changes = (args.cooldown, args.max_subnets_per_host, args.selector, reserved)
    if all(change is None for change in changes):
        raise UsageError(
            "nothing to update: give --cooldown, --max-subnets-per-host, --selector, --reserve or --clear-reserved"
        )
    with remote.connect(args) as ipam:
        updated = ipam.update_pool(
            args.name,
            cooldown_seconds=args.cooldown,
            max_subnets_per_host=args.max_subnets_per_host,
            host_selector=args.selector,
            reserved_cidrs=reserved,
        )
    _emit_pool(args, updated)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        ipam.delete_pool(args.name, force=args.force)
    print(f'pool "{args.name}" deleted')
    return 0


def run_toggle(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        pool = ipam.update_pool(args.name, disabled=args.disabled)
    if args.output == "table":
        print(f'pool "{pool.name}" {"disabled" if pool.disabled else "enabled"}')
    else:
        output.emit_message(args, pool, SETTINGS_COLUMNS)
    return 0


def _emit_pool(args: argparse.Namespace, pool: Any) -> None:
    """One pool: in a table, its settings then its usage; in JSON/YAML, the whole record."""
    item = output.record(pool)
    output.emit(args, [item], SETTINGS_COLUMNS, single=True)
    if args.output == "table" and pool.HasField("usage"):
        print()
        output.emit(args, [item], USAGE_COLUMNS, single=True)
