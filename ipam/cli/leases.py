"""`ipam lease create|list|show|release`: address leases, one at a time or in bulk."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb, key_value
from ipam.cli.errors import CliError, UsageError
from ipam.cli.output import Column, column, count, enum_column, owner_column, time_column
from ipam.cli.progress import progress

if TYPE_CHECKING:
    from ipam_client import IpamClient, pb

DEFAULT_INTERFACE = "eth0"
STATES = ("active", "released", "all")


def state_column() -> Column:
    return enum_column("state", "state", "LEASE_STATE_")


LIST_COLUMNS = [
    column("address", "address_cidr"),
    column("pool", "pool"),
    column("host", "host"),
    owner_column(),
    state_column(),
    time_column("since", "allocate_time"),
    time_column("released", "release_time"),
]
DETAIL_COLUMNS = [
    column("address", "address_cidr"),
    column("gateway", "gateway"),
    column("pool", "pool"),
    column("space", "space"),
    column("host", "host"),
    owner_column(),
    state_column(),
    time_column("since", "allocate_time"),
    time_column("released", "release_time"),
    column("attributes", "attributes"),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "lease",
        parents,
        help="address leases held by owners (container id + interface)",
        description="Address leases: each is held by an owner key (owner id + interface) on a host.",
    )
    _register_create(verbs, parents)
    _register_list(verbs, parents)
    _register_show(verbs, parents)
    _register_release(verbs, parents)


def _register_create(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="allocate addresses for an owner (one per --pool, all or none)",
        examples=[
            "ipam lease create --host node-1 --owner c0ffee --pool prod-v4",
            "ipam lease create --host node-1 --owner c0ffee --interface eth1 --pool prod-v4 --pool prod-v6",
            "ipam lease create --host node-1 --owner c0ffee --pool prod-v4 --address 10.1.0.20",
            "ipam lease create --host node-1 --owner c0ffee --pool prod-v4 --attribute app=web -o json",
        ],
    )
    create.add_argument("--host", required=True, help="the host the owner runs on")
    create.add_argument("--owner", required=True, metavar="ID", help="owner id (e.g. container id)")
    create.add_argument("--interface", default=DEFAULT_INTERFACE, help=f"(default: {DEFAULT_INTERFACE})")
    create.add_argument(
        "--pool",
        dest="pools",
        action="append",
        required=True,
        metavar="POOL",
        help="pool to allocate from; repeat for dual-stack (one address per pool)",
    )
    create.add_argument(
        "--address",
        dest="addresses",
        action="append",
        default=[],
        metavar="IP",
        help="a specific address instead of any free one, in the --pool that contains it; repeatable",
    )
    create.add_argument(
        "--attribute",
        dest="attributes",
        action="append",
        default=[],
        type=key_value,
        metavar="KEY=VALUE",
        help="attribute stored with the leases; repeatable",
    )
    output.add_options(create)


def _register_list(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list leases, optionally filtered",
        examples=[
            "ipam lease list",
            "ipam lease list --pool prod-v4 --host node-1",
            "ipam lease list --owner c0ffee --state all -o yaml",
            "ipam lease list --state released --limit 20",
        ],
    )
    listing.add_argument("--pool", default="", help="only leases of this pool")
    listing.add_argument("--host", default="", help="only leases of this host")
    listing.add_argument("--owner", default="", metavar="ID", help="only leases of this owner id")
    listing.add_argument("--interface", default="", help="only leases of this interface")
    listing.add_argument("--state", choices=STATES, default="active", help="(default: active)")
    output.add_options(listing, listing=True)


def _register_show(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    show = add_verb(
        verbs,
        "show",
        parents,
        run=run_show,
        help="show the lease holding an address, else its last released lease",
        examples=["ipam lease show 10.1.0.20", "ipam lease show 10.9.0.4 --space tenant-a -o json"],
    )
    show.add_argument("address")
    remote.add_space_option(show)
    output.add_options(show)


def _register_release(verbs: Any, parents: list[argparse.ArgumentParser]) -> None:
    release = add_verb(
        verbs,
        "release",
        parents,
        run=run_release,
        help="release the leases of an owner, of an address, or (with --all) every active lease matching filters",
        examples=[
            "ipam lease release --owner c0ffee                     # every lease of c0ffee/eth0",
            "ipam lease release --owner c0ffee --interface eth1",
            "ipam lease release 10.1.0.20",
            "ipam lease release 10.9.0.4 --space tenant-a",
            "ipam lease release --all --host node-1 --dry-run      # list what would be released",
            "ipam lease release --all --host node-1 --yes",
            "ipam lease release --all --pool prod-v4 --owner-prefix job- --yes",
        ],
        description=(
            "Release leases; releasing what is already released succeeds and says so.\n\n"
            "Give exactly one of ADDRESS, --owner ID, or --all. --all releases every active lease that\n"
            "matches all the filters given (--pool, --host, --owner-prefix, --interface; at least one is\n"
            "required) and needs --yes, or --dry-run to only list the leases it would release. It shows a\n"
            "progress bar on a terminal and ends with a summary line; it exits 1 if any release failed."
        ),
    )
    release.add_argument("address", nargs="?", help="release the lease holding this address")
    remote.add_space_option(release, "address space of ADDRESS")
    release.add_argument(
        "--owner", metavar="ID", help=f"release every lease of ID/--interface (default {DEFAULT_INTERFACE})"
    )
    release.add_argument("--interface", help="the owner's interface; with --all, a filter")
    bulk = release.add_argument_group("bulk release (--all)")
    bulk.add_argument("--all", action="store_true", help="release every active lease matching the filters")
    bulk.add_argument("--pool", default="", help="only leases of this pool")
    bulk.add_argument("--host", default="", help="only leases of this host")
    bulk.add_argument("--owner-prefix", default="", metavar="PREFIX", help="only owners whose id starts with PREFIX")
    bulk.add_argument("--yes", action="store_true", help="do release (required unless --dry-run)")
    bulk.add_argument("--dry-run", action="store_true", help="only list the leases that would be released")
    output.add_options(release)


# -- create ---------------------------------------------------------------------------------------


def run_create(args: argparse.Namespace) -> int:
    from ipam_client import AddressSpec

    with remote.connect(args) as ipam:
        specific = _addresses_by_pool(ipam, args.pools, args.addresses)
        specs = [AddressSpec(pool=pool, address=specific.get(pool, "")) for pool in args.pools]
        reply = ipam.allocate(args.host, args.owner, args.interface, specs, dict(args.attributes))
    if args.output != "table":
        output.emit_message(args, reply, [])
        return 0
    output.emit_messages(args, reply.leases, DETAIL_COLUMNS)
    if reply.already_allocated:
        print(f"already allocated: {args.owner}/{args.interface} held these leases", file=sys.stderr)
    return 0


def _addresses_by_pool(ipam: IpamClient, pools: list[str], addresses: list[str]) -> dict[str, str]:
    """Which pool each --address goes to: the only pool, else the given pool whose CIDR holds it."""
    if not addresses:
        return {}
    if len(pools) == 1 and len(addresses) == 1:
        return {pools[0]: addresses[0]}  # the server checks it (and says why it does not fit)
    cidrs = {name: ipaddress.ip_network(ipam.get_pool(name).cidr) for name in pools}
    chosen: dict[str, str] = {}
    for text in addresses:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise CliError(f"--address: {text!r} is not an IP address") from None
        pool = next((name for name, net in cidrs.items() if address in net), None)
        if pool is None:
            raise CliError(f"--address {text} is not inside any of the pools {', '.join(pools)}")
        if pool in chosen:
            raise CliError(f"--address {chosen[pool]} and {text} are both in pool {pool}; one address per pool")
        chosen[pool] = text
    return chosen


# -- list, show -----------------------------------------------------------------------------------


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        leases = remote.first(
            args.limit,
            ipam.iter_leases,
            pool=args.pool,
            host=args.host,
            owner_id=args.owner,
            interface=args.interface,
            state=_state(args.state),
        )
    output.emit_messages(args, leases, LIST_COLUMNS)
    return 0


def _state(name: str) -> int:
    from ipam_client import pb

    return {"active": pb.LEASE_STATE_ACTIVE, "released": pb.LEASE_STATE_RELEASED}.get(name, pb.LEASE_STATE_UNSPECIFIED)


def run_show(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        lease = ipam.get_lease(args.address, args.space)
    output.emit_message(args, lease, DETAIL_COLUMNS)
    return 0


# -- release --------------------------------------------------------------------------------------


def run_release(args: argparse.Namespace) -> int:
    _check_release_usage(args)
    if args.all:
        return _release_all(args)
    with remote.connect(args) as ipam:
        if args.owner is not None:
            interface = args.interface or DEFAULT_INTERFACE
            reply = ipam.release_owner(args.owner, interface)
            target = f"owner {args.owner}/{interface}"
        else:
            reply = ipam.release_address(args.address, args.space)
            target = f"address {args.address}"
    if args.output != "table":
        output.emit_message(args, reply, [])
    elif reply.already_released:
        print(f"{target}: already released (nothing active to release)")
    else:
        for lease in reply.leases:
            print(f"released {lease.address_cidr} (pool {lease.pool}, owner {lease.owner_id}/{lease.interface})")
    return 0


def _check_release_usage(args: argparse.Namespace) -> None:
    modes = [m for m, given in (("ADDRESS", args.address), ("--owner", args.owner), ("--all", args.all)) if given]
    if len(modes) != 1:
        raise UsageError(
            "give exactly one of ADDRESS, --owner ID, or --all with filters"
            + (f" (got {' and '.join(modes)})" if modes else "")
        )
    bulk_only = [
        flag
        for flag, given in (
            ("--pool", args.pool),
            ("--host", args.host),
            ("--owner-prefix", args.owner_prefix),
            ("--yes", args.yes),
            ("--dry-run", args.dry_run),
        )
        if given
    ]
    if not args.all and bulk_only:
        raise UsageError(f"{', '.join(bulk_only)}: only with --all")
    if args.space and not args.address:
        raise UsageError("--space: only with ADDRESS")
    if args.interface is not None and args.address:
        raise UsageError("--interface: only with --owner or --all")
    if args.all:
        if not (args.pool or args.host or args.owner_prefix or args.interface):
            raise UsageError("--all needs at least one filter: --pool, --host, --owner-prefix or --interface")
        if args.yes == args.dry_run:
            raise UsageError(
                "--all releases every matching active lease: add --yes to do it, or --dry-run to list them"
            )


def _release_all(args: argparse.Namespace) -> int:
    from ipam_client import IpamClientError

    with remote.connect(args) as ipam:
        matched = _matching_leases(ipam, args)
        if args.dry_run:
            _report_bulk(args, matched, matched, already=0, failures=[], changed=[])
            return 0
        released: list[pb.Lease] = []
        already = 0
        failures: list[str] = []
        changed: list[str] = []
        with progress("releasing", len(matched)) as advance:
            for lease in matched:
                try:
                    reply = ipam.release_address(lease.address, lease.space)
                except IpamClientError as exc:
                    if not exc.reached_server:
                        raise
                    failures.append(f"{lease.address}: {exc.message}")
                else:
                    already += reply.already_released
                    released.extend(reply.leases)
                    changed.extend(_changed_hands(lease, reply.leases))
                advance(1)
    for line in failures + changed:
        print(f"ipam: warning: {line}", file=sys.stderr)
    _report_bulk(args, matched, released, already=already, failures=failures, changed=changed)
    return 1 if failures or changed else 0


def _matching_leases(ipam: IpamClient, args: argparse.Namespace) -> list[pb.Lease]:
    """Every active lease matching the filters, listed before anything is released."""
    found = ipam.iter_leases(
        pool=args.pool,
        host=args.host,
        interface=args.interface or "",
        state=_state("active"),
        page_size=remote.MAX_PAGE_SIZE,
    )
    with progress("listing") as advance:
        matched = []
        for lease in found:
            if lease.owner_id.startswith(args.owner_prefix):
                matched.append(lease)
            advance(1)
    return matched


def _changed_hands(listed: pb.Lease, released: Any) -> list[str]:
    """Releases by address: name any lease released that was not the one listed (reallocated meanwhile)."""
    return [
        f"{lease.address}: released the lease of {lease.owner_id}/{lease.interface}, "
        f"which took the address after {listed.owner_id}/{listed.interface} (listed) let it go"
        for lease in released
        if (lease.owner_id, lease.interface) != (listed.owner_id, listed.interface)
    ]


def _report_bulk(
    args: argparse.Namespace,
    matched: list[pb.Lease],
    leases: list[pb.Lease],
    *,
    already: int,
    failures: list[str],
    changed: list[str],
) -> None:
    if args.output != "table":
        summary = {
            "dry_run": bool(args.dry_run),
            "matched": len(matched),
            "released": 0 if args.dry_run else len(leases),
            "already_released": already,
            "failed": len(failures),
            "changed_hands": len(changed),
            "leases": [output.record(lease) for lease in leases],
        }
        output.emit(args, [summary], [], single=True)
        return
    if args.dry_run:
        if matched:
            output.emit_messages(args, matched, LIST_COLUMNS)
        print(f"{count(len(matched), 'active lease')} would be released (run again with --yes to release)")
        return
    changed_note = f", {len(changed)} had changed hands" if changed else ""
    print(
        f"released {len(leases)} of {count(len(matched), 'matching lease')}"
        f" ({already} already released, {len(failures)} failed{changed_note})"
    )
