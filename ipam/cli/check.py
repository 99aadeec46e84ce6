"""`ipam check`: a consistency audit of the whole system, over the gRPC API.

The audit itself is :func:`audit`, a pure function over plain records (dicts with the API's field
names), so every problem it knows can be tested without a server.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from ipam.cli import output, progress, remote
from ipam.cli.commands import add_verb
from ipam.cli.output import count

Record = Mapping[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Every kind of problem, in the order they are reported.
KINDS = (
    "pools_overlap",
    "subnets_overlap",
    "subnet_without_host",
    "subnet_outside_pool",
    "subnets_beyond_max",
    "lease_outside_pool",
    "lease_outside_subnet",
    "lease_unknown_host",
    "lease_borrowed_from_unknown_host",
    "lease_in_disabled_pool",
    "address_leased_twice",
    "owner_multiple_addresses",
    "invalid_record",
)
# Addresses named in one aggregated message at most.
SAMPLE = 5
EXIT_STATUS = """\
exit status:
  0  no problems found
  1  problems found (or the audit failed)
  2  usage error
  3  server unreachable

Checks: pools of one space overlapping; host subnets overlapping, without a known host, outside
their pool, or more per host than the pool's max; active leases outside any pool or their host
subnet, of unknown hosts, borrowed (in another host's subnet, docs/address-ownership.md) from a
subnet whose host is not registered, in a disabled pool, sharing an address, or an owner key
(owner/interface) holding two addresses of one pool. The data is read in several calls, not one snapshot: when
problems are found everything is read and audited again, and only problems seen both times are
reported, so changes made while the audit runs are not mistaken for inconsistencies.

-o json: {"clean": bool, "problems": [{"kind", "subject", "message"}...],
          "checked": {"pools", "host_subnets", "hosts", "active_leases"}}"""


@dataclass(frozen=True)
class Problem:
    kind: str
    subject: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    pools: list[dict[str, Any]]
    subnets: list[dict[str, Any]]
    hosts: list[dict[str, Any]]
    leases: list[dict[str, Any]]

    def checked(self) -> dict[str, int]:
        return {
            "pools": len(self.pools),
            "host_subnets": len(self.subnets),
            "hosts": len(self.hosts),
            "active_leases": len(self.leases),
        }


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = add_verb(
        subparsers,
        "check",
        parents,
        run=run,
        help="audit the consistency of pools, host subnets, hosts and leases",
        examples=["ipam check", "ipam check -o json | jq '.problems[].kind'"],
        notes=EXIT_STATUS,
    )
    output.add_options(parser)


# --- the audit ----------------------------------------------------------------------------------


def audit(
    pools: Sequence[Record], subnets: Sequence[Record], hosts: Sequence[Record], leases: Sequence[Record]
) -> list[Problem]:
    """Every inconsistency between the records, sorted by kind then subject.

    pools: name, space, cidr, disabled, max_subnets_per_host; subnets: cidr, pool, space, host;
    hosts: name; leases (the active ones): address, subnet, pool, space, host, owner_id, interface and,
    for a Docker network's lease, docker_network (its subnet).
    """
    problems: list[Problem] = []
    host_names = {h["name"] for h in hosts}
    pool_nets: dict[str, tuple[Record, Network]] = {}
    for p in pools:
        net = _network(p["cidr"], f'pool "{p["name"]}"', problems, p["name"])
        if net is not None:
            pool_nets[p["name"]] = (p, net)
    problems += _overlaps(
        "pools_overlap", [(p["space"], net, p["name"], f'pool "{p["name"]}" ({net})') for p, net in pool_nets.values()]
    )

    subnet_nets: dict[tuple[str, str], tuple[Record, Network]] = {}
    held: dict[tuple[str, str], list[str]] = defaultdict(list)
    for s in subnets:
        net = _network(s["cidr"], "host subnet", problems, s["cidr"])
        if net is None:
            continue
        subnet_nets[(s["space"], str(net))] = (s, net)
        where = f'host subnet {net} of pool "{s["pool"]}"'
        if not s["host"]:
            problems.append(Problem("subnet_without_host", str(net), f"{where} has no host"))
        elif s["host"] not in host_names:
            problems.append(Problem("subnet_without_host", str(net), f'{where} belongs to unknown host "{s["host"]}"'))
        found = pool_nets.get(s["pool"])
        if found is None:
            problems.append(Problem("subnet_outside_pool", str(net), f"{where}: the pool does not exist"))
        elif found[0]["space"] != s["space"]:
            problems.append(
                Problem(
                    "subnet_outside_pool",
                    str(net),
                    f'{where} is in space "{s["space"]}" but the pool is in space "{found[0]["space"]}"',
                )
            )
        elif not _inside(net, found[1]):
            problems.append(Problem("subnet_outside_pool", str(net), f"{where} is outside the pool ({found[1]})"))
        if s["host"]:
            held[(s["pool"], s["host"])].append(str(net))
    problems += _overlaps(
        "subnets_overlap",
        [(s["space"], net, str(net), f'host subnet {net} (pool "{s["pool"]}")') for s, net in subnet_nets.values()],
    )
    for (pool, host), cidrs in held.items():
        limit = int(pool_nets[pool][0].get("max_subnets_per_host") or 0) if pool in pool_nets else 0
        if limit and len(cidrs) > limit:
            problems.append(
                Problem(
                    "subnets_beyond_max",
                    f"{pool}:{host}",
                    f'host "{host}" holds {len(cidrs)} host subnets of pool "{pool}", beyond its max of {limit} '
                    f"({_sample(cidrs)})",
                )
            )

    pools_by_space: dict[str, list[tuple[str, Network]]] = defaultdict(list)
    for p, net in pool_nets.values():
        pools_by_space[p["space"]].append((p["name"], net))
    in_disabled: dict[str, list[str]] = defaultdict(list)
    holders: dict[tuple[str, str], list[str]] = defaultdict(list)
    owners: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for lease in leases:
        try:
            addr = ipaddress.ip_address(lease["address"])
        except ValueError:
            problems.append(Problem("invalid_record", str(lease["address"]), f"lease address {lease['address']!r}"))
            continue
        subject, space = str(addr), lease["space"]
        who = f'lease {addr} of {lease["owner_id"]}/{lease["interface"]} on host "{lease["host"]}"'
        found = pool_nets.get(lease["pool"])
        if found is None or found[0]["space"] != space or addr not in found[1]:
            containing = [name for name, net in pools_by_space[space] if addr in net]
            if containing:
                message = f'{who} is recorded in pool "{lease["pool"]}" but lies in pool "{containing[0]}"'
            else:
                message = f'{who} is outside any pool of space "{space}"'
            problems.append(Problem("lease_outside_pool", subject, message))
        elif found[0]["disabled"]:
            in_disabled[lease["pool"]].append(subject)
        subnet = subnet_nets.get((space, _normalized(lease["subnet"])))
        if lease.get("docker_network"):
            # A Docker network's subnet is not a host subnet (the database keeps the two apart).
            if addr not in ipaddress.ip_network(lease["subnet"], strict=False):
                problems.append(
                    Problem("lease_outside_subnet", subject, f"{who} lies outside its Docker network {lease['subnet']}")
                )
        elif subnet is None:
            problems.append(
                Problem(
                    "lease_outside_subnet", subject, f"{who} is in host subnet {lease['subnet']}, which does not exist"
                )
            )
        elif addr not in subnet[1]:
            problems.append(Problem("lease_outside_subnet", subject, f"{who} lies outside its host subnet {subnet[1]}"))
        elif subnet[0]["pool"] != lease["pool"]:
            problems.append(
                Problem(
                    "lease_outside_subnet",
                    subject,
                    f'{who} is in pool "{lease["pool"]}" but its host subnet {subnet[1]} '
                    f'is in pool "{subnet[0]["pool"]}"',
                )
            )
        if lease["host"] not in host_names:
            problems.append(Problem("lease_unknown_host", subject, f"{who}: the host is not registered"))
        if subnet is not None and not lease.get("docker_network"):
            problems += _borrowed_from_unknown(who, subject, lease["host"], subnet, host_names)
        holders[(space, subject)].append(f"{lease['owner_id']}/{lease['interface']}")
        owners[(lease["pool"], lease["owner_id"], lease["interface"])].append(subject)

    for pool, addresses in in_disabled.items():
        problems.append(
            Problem(
                "lease_in_disabled_pool",
                pool,
                f'pool "{pool}" is disabled but holds {count(len(addresses), "active lease")}: {_sample(addresses)}',
            )
        )
    for (space, address), keys in holders.items():
        if len(keys) > 1:
            problems.append(
                Problem(
                    "address_leased_twice",
                    address,
                    f'{address} (space "{space}") is held by {len(keys)} active leases: {_sample(keys)}',
                )
            )
    for (pool, owner_id, interface), addresses in owners.items():
        if len(addresses) > 1:
            problems.append(
                Problem(
                    "owner_multiple_addresses",
                    f"{pool}:{owner_id}/{interface}",
                    f'owner {owner_id}/{interface} holds {len(addresses)} active addresses in pool "{pool}": '
                    f"{_sample(addresses)}",
                )
            )
    return sorted(problems, key=lambda p: (KINDS.index(p.kind), p.subject, p.message))


def _borrowed_from_unknown(
    who: str, subject: str, host: str, subnet: tuple[Record, Network], host_names: set[str]
) -> list[Problem]:
    """A borrowed lease (in another host's subnet) keeps that subnet: it needs a host to stay with."""
    lender = subnet[0]["host"]
    if lender == host or lender in host_names:
        return []
    lending = f'host "{lender}", which is not registered' if lender else "no host"
    return [
        Problem(
            "lease_borrowed_from_unknown_host", subject, f"{who} is borrowed from host subnet {subnet[1]} of {lending}"
        )
    ]


def _network(cidr: str, what: str, problems: list[Problem], subject: str) -> Network | None:
    try:
        return ipaddress.ip_network(cidr)
    except ValueError:
        problems.append(Problem("invalid_record", subject, f"{what}: {cidr!r} is not a CIDR"))
        return None


@lru_cache(maxsize=4096)
def _normalized(cidr: str) -> str:
    try:
        return str(ipaddress.ip_network(cidr))
    except ValueError:
        return cidr


def _inside(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _overlaps(kind: str, items: Iterable[tuple[str, Network, str, str]]) -> list[Problem]:
    """Overlapping networks of one space: items are (space, network, subject, description).

    Sorted by start address, a network overlaps an earlier one exactly when it starts at or before
    the furthest end seen so far; pairs are reported with the network reaching that far.
    """
    found: list[Problem] = []
    groups: dict[tuple[str, int], list[tuple[Network, str, str]]] = defaultdict(list)
    for space, net, subject, description in items:
        groups[(space, net.version)].append((net, subject, description))
    for (space, _), group in sorted(groups.items()):
        group.sort(key=lambda g: (int(g[0].network_address), g[0].prefixlen))
        reach: tuple[Network, str, str] | None = None
        for current in group:
            net = current[0]
            if reach is not None and int(net.network_address) <= int(reach[0].broadcast_address):
                first, second = sorted([reach[1], current[1]])
                found.append(Problem(kind, f"{first},{second}", f'{reach[2]} overlaps {current[2]} in space "{space}"'))
            if reach is None or int(net.broadcast_address) > int(reach[0].broadcast_address):
                reach = current
    return found


def _sample(items: Sequence[str]) -> str:
    shown = ", ".join(sorted(items)[:SAMPLE])
    return shown + (f" and {len(items) - SAMPLE} more" if len(items) > SAMPLE else "")


# --- the command --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        snapshot = fetch(ipam)
        problems = audit(snapshot.pools, snapshot.subnets, snapshot.hosts, snapshot.leases)
        if problems:
            # Rule out changes made while reading: keep what a second, later read confirms.
            first = {(p.kind, p.subject) for p in problems}
            snapshot = fetch(ipam)
            problems = [
                p
                for p in audit(snapshot.pools, snapshot.subnets, snapshot.hosts, snapshot.leases)
                if (p.kind, p.subject) in first
            ]
    checked = snapshot.checked()
    if args.output != "table":
        report = {"clean": not problems, "problems": [asdict(p) for p in problems], "checked": checked}
        output.emit(args, [report], [], single=True)
    else:
        summary = ", ".join(count(n, noun) for noun, n in _nouns(checked))
        if problems:
            sys.stdout.write(
                output.table(["kind", "subject", "problem"], [[p.kind, p.subject, p.message] for p in problems])
            )
            print(f"{count(len(problems), 'problem')} found (checked {summary})")
        else:
            print(f"no problems found (checked {summary})")
    return 1 if problems else 0


def _nouns(checked: Mapping[str, int]) -> list[tuple[str, int]]:
    names = {"pools": "pool", "host_subnets": "host subnet", "hosts": "host", "active_leases": "active lease"}
    return [(names[key], n) for key, n in checked.items()]


def fetch(ipam: Any) -> Snapshot:
    """Everything the audit needs, leases first: whatever a lease refers to existed before it and
    is read after it (pools are read first too, only to size the progress bar)."""
    from ipam_client import pb

    expected = sum(int(p.usage.allocated_addresses or 0) for p in ipam.list_pools())
    leases: list[dict[str, Any]] = []
    with progress.progress("reading active leases", total=expected or None) as advance:
        for lease in ipam.iter_leases(state=pb.LEASE_STATE_ACTIVE, page_size=remote.MAX_PAGE_SIZE):
            leases.append(
                {
                    "address": lease.address,
                    "subnet": lease.subnet,
                    "pool": lease.pool,
                    "space": lease.space,
                    "host": lease.host,
                    "owner_id": lease.owner_id,
                    "interface": lease.interface,
                    "docker_network": lease.attributes.get("docker.network", ""),
                }
            )
            advance(1)
    subnets = [
        {"cidr": s.cidr, "pool": s.pool, "space": s.space, "host": s.host}
        for s in ipam.list_subnets(page_size=remote.MAX_PAGE_SIZE)
    ]
    pools = [
        {
            "name": p.name,
            "space": p.space,
            "cidr": p.cidr,
            "disabled": p.disabled,
            "max_subnets_per_host": p.max_subnets_per_host,
        }
        for p in ipam.list_pools(page_size=remote.MAX_PAGE_SIZE)
    ]
    hosts = [{"name": h.name} for h in ipam.list_hosts(page_size=remote.MAX_PAGE_SIZE)]
    return Snapshot(pools, subnets, hosts, leases)
