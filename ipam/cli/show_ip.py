"""`ipam show-ip ADDRESS`: everything known about one address, in one answer."""

from __future__ import annotations

import argparse
import ipaddress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_verb
from ipam.cli.remote import DEFAULT_SPACE

if TYPE_CHECKING:
    from ipam_client import pb

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

DESCRIPTION = """\
Show everything known about one address: the pool holding it, the host subnet and host, the
gateway, whether it is a network, broadcast, gateway or reserved address (never handed out),
and its lease: the owner holding it and since when, else the last owner and when it was
released, else that it has never been leased.

An address in no pool of the space is an answer, not an error: the report says
"not in any pool" ("in_pool": false in JSON/YAML) and the exit status is 0. Exit status 1
means the question could not be answered (an invalid address, an unknown space), 3 that the
server could not be reached.

JSON/YAML fields: address, space, in_pool, role (network|broadcast|gateway|reserved|
assignable, or null outside any pool), reserved_cidr, lease_state (active|released|
never_leased), cooldown_until (when a released address is reusable again, while that is
ahead), borrowed_from (the host whose subnet holds an active lease of another host, else
null; see docs/address-ownership.md), pool, subnet and lease (the API's Pool, HostSubnet and
Lease messages, or null)."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    show = add_verb(
        subparsers,
        "show-ip",
        parents,
        run=run,
        help="what an address is: its pool, host subnet, host, lease and owner",
        examples=[
            "ipam show-ip 10.1.0.20",
            "ipam show-ip 2001:db8::5 -o json",
            "ipam show-ip 10.9.0.4 --space tenant-a",
        ],
        description=DESCRIPTION,
    )
    show.add_argument("address")
    remote.add_space_option(show)
    output.add_options(show)


def run(args: argparse.Namespace) -> int:
    from ipam_client import NotFound

    space = args.space or DEFAULT_SPACE
    with remote.connect(args) as ipam:
        # The server checks the address first, so a bad one is reported in its words.
        lease: pb.Lease | None
        try:
            lease = ipam.get_lease(args.address, space)
        except NotFound:
            lease = None  # never leased
        pools = ipam.list_pools(space)  # also fails, with the server's message, for an unknown space
        ip = ipaddress.ip_address(args.address)
        pool = next((p for p in pools if ip in ipaddress.ip_network(p.cidr)), None)
        subnets = ipam.list_subnets(address=str(ip), space=space) if pool else []
    report = build_report(ip, space, pool, subnets[0] if subnets else None, lease)
    if args.output == "table":
        print(render(report, pool, subnets[0] if subnets else None, lease), end="")
    else:
        output.emit(args, [report], [], single=True)
    return 0


def build_report(
    ip: Address, space: str, pool: pb.Pool | None, subnet: pb.HostSubnet | None, lease: pb.Lease | None
) -> dict[str, Any]:
    role, reserved_cidr = address_role(ip, pool, subnet) if pool else (None, None)
    lease_state = "never_leased"
    if lease is not None:
        lease_state = "active" if lease.state == _active() else "released"
    until = cooldown_until(pool, lease)
    return {
        "address": str(ip),
        "space": space,
        "in_pool": pool is not None,
        "role": role,
        "reserved_cidr": reserved_cidr,
        "lease_state": lease_state,
        "cooldown_until": until.strftime("%Y-%m-%dT%H:%M:%SZ") if until else None,
        "borrowed_from": borrowed_from(subnet, lease),
        "pool": output.record(pool) if pool else None,
        "subnet": output.record(subnet) if subnet else None,
        "lease": output.record(lease) if lease else None,
    }


def borrowed_from(subnet: pb.HostSubnet | None, lease: pb.Lease | None) -> str | None:
    """The lending host, when the address is actively held by a host in another host's subnet."""
    if subnet is None or lease is None or lease.state != _active() or subnet.host == lease.host:
        return None
    return subnet.host


def cooldown_until(pool: pb.Pool | None, lease: pb.Lease | None) -> datetime | None:
    """When a released address becomes reusable, while that is in the future (by this machine's clock)."""
    if pool is None or lease is None or lease.state == _active() or not lease.HasField("release_time"):
        return None
    until = lease.release_time.ToDatetime(tzinfo=UTC) + timedelta(seconds=pool.cooldown_seconds)
    return until if until > datetime.now(UTC) else None


def _active() -> int:
    from ipam_client import pb

    return pb.LEASE_STATE_ACTIVE


def address_role(ip: Address, pool: pb.Pool, subnet: pb.HostSubnet | None) -> tuple[str, str | None]:
    """Why the address is never handed out (network, broadcast, gateway, reserved), else "assignable".

    The same rules as the server: the host subnet's first address is its network address, the
    last one of an IPv4 subnet its broadcast address, the gateway (first usable, unless the pool's
    gateway policy is NONE) is never leased, nor is any address of a reserved CIDR. Before a host
    subnet is carved, its block is the pool's aligned block of `host_prefix_length` bits.
    """
    from ipam_client import pb

    block = ipaddress.ip_network(subnet.cidr if subnet else f"{ip}/{pool.host_prefix_length}", strict=False)
    offset = int(ip) - int(block.network_address)
    gateway = subnet.gateway if subnet else ""
    if not subnet and pool.gateway_policy != pb.GATEWAY_POLICY_NONE:
        gateway = str(block.network_address + 1)
    reserved = next((c for c in pool.reserved_cidrs if ip in ipaddress.ip_network(c)), None)
    if offset == 0:
        return "network", reserved
    if ip.version == 4 and ip == block.broadcast_address:
        return "broadcast", reserved
    if gateway and ip == ipaddress.ip_address(gateway):
        return "gateway", reserved
    if reserved:
        return "reserved", reserved
    return "assignable", None


ROLE_TEXT = {
    "network": "the host subnet's network address (never leased)",
    "broadcast": "the host subnet's broadcast address (never leased)",
    "gateway": "the host subnet's gateway (never leased)",
    "reserved": "reserved by the pool (never leased)",
    "assignable": "assignable",
}


def render(report: dict[str, Any], pool: pb.Pool | None, subnet: pb.HostSubnet | None, lease: pb.Lease | None) -> str:
    rows: list[tuple[str, str]] = [("address", f"{report['address']} (address space {report['space']})")]
    if pool is None:
        rows.append(("pool", f'not in any pool of address space "{report["space"]}"'))
    else:
        flags = " (disabled)" if pool.disabled else ""
        rows.append(("pool", f"{pool.name} {pool.cidr}{flags}"))
        if subnet is not None:
            rows.append(("subnet", f"{subnet.cidr} of host {subnet.host}"))
            rows.append(("gateway", subnet.gateway or "none (the pool has no gateway)"))
        else:
            rows.append(("subnet", "none: no host subnet holds it yet"))
        role = ROLE_TEXT[report["role"]]
        if report["reserved_cidr"]:
            role += f", inside reserved {report['reserved_cidr']}"
        rows.append(("role", role))
    rows.extend(_lease_rows(lease, report["cooldown_until"]))
    if report["borrowed_from"] and subnet is not None:
        rows.append(("borrowed", f"from host {subnet.host}'s subnet {subnet.cidr} (docs/address-ownership.md)"))
    return output.fields(rows)


def _lease_rows(lease: pb.Lease | None, cooldown_until: str | None) -> list[tuple[str, str]]:
    if lease is None:
        return [("lease", "none: never leased")]
    record = output.record(lease)
    owner = f"{lease.owner_id}/{lease.interface}"
    since = output.to_seconds(record.get("allocate_time", "")) or "-"
    if lease.state == _active():
        rows = [("lease", f"active, held by {owner} on host {lease.host} since {since}")]
    else:
        released = output.to_seconds(record.get("release_time", "")) or "-"
        state = f"in cooldown until {cooldown_until}" if cooldown_until else "free"
        rows = [("lease", f"{state}: released {released}, last held by {owner} on host {lease.host} since {since}")]
    if lease.attributes:
        rows.append(("attributes", ",".join(f"{k}={v}" for k, v in sorted(lease.attributes.items()))))
    return rows
