"""The pure audit behind `ipam check`, table-driven: every kind of problem, without a server."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ipam.cli.check import KINDS, Problem, audit

Data = dict[str, list[dict[str, Any]]]


def consistent() -> Data:
    """Two spaces (overlapping across spaces is fine), two hosts, a lease on each."""
    return {
        "pools": [
            {"name": "a", "space": "default", "cidr": "10.0.0.0/24", "disabled": False, "max_subnets_per_host": 2},
            {"name": "b", "space": "default", "cidr": "10.0.1.0/24", "disabled": False, "max_subnets_per_host": 0},
            {"name": "c", "space": "other", "cidr": "10.0.0.0/16", "disabled": False, "max_subnets_per_host": 0},
            {"name": "v6", "space": "default", "cidr": "fd00::/48", "disabled": False, "max_subnets_per_host": 0},
        ],
        "subnets": [
            {"cidr": "10.0.0.0/30", "pool": "a", "space": "default", "host": "h1"},
            {"cidr": "10.0.0.4/30", "pool": "a", "space": "default", "host": "h1"},
            {"cidr": "10.0.1.0/30", "pool": "b", "space": "default", "host": "h2"},
            {"cidr": "10.0.0.0/30", "pool": "c", "space": "other", "host": "h2"},
            {"cidr": "fd00::/64", "pool": "v6", "space": "default", "host": "h1"},
        ],
        "hosts": [{"name": "h1"}, {"name": "h2"}],
        "leases": [
            lease("10.0.0.2", "10.0.0.0/30", "a", "h1", "ctr-1"),
            lease("10.0.0.6", "10.0.0.4/30", "a", "h1", "ctr-2"),
            lease("10.0.1.2", "10.0.1.0/30", "b", "h2", "ctr-1"),
            lease("10.0.0.2", "10.0.0.0/30", "c", "h2", "ctr-3", space="other"),
            lease("fd00::2", "fd00::/64", "v6", "h1", "ctr-1"),
        ],
    }


def lease(
    address: str, subnet: str, pool: str, host: str, owner: str, *, interface: str = "eth0", space: str = "default"
) -> dict[str, Any]:
    return {
        "address": address,
        "subnet": subnet,
        "pool": pool,
        "space": space,
        "host": host,
        "owner_id": owner,
        "interface": interface,
    }


def run(data: Data) -> list[Problem]:
    return audit(data["pools"], data["subnets"], data["hosts"], data["leases"])


def test_a_consistent_system_has_no_problems() -> None:
    assert run(consistent()) == []


def test_a_borrowed_lease_is_consistent() -> None:
    """h2 holds an address it asked for inside h1's subnet (docs/address-ownership.md)."""
    data = consistent()
    data["leases"].append(lease("10.0.0.3", "10.0.0.0/30", "a", "h2", "ctr-9"))
    assert run(data) == []


def test_a_lease_borrowed_from_an_unregistered_host_is_reported() -> None:
    data = consistent()
    data["subnets"].append({"cidr": "10.0.0.8/30", "pool": "a", "space": "default", "host": "gone"})
    data["leases"].append(lease("10.0.0.9", "10.0.0.8/30", "a", "h2", "ctr-9"))
    assert [(p.kind, p.subject, p.message) for p in run(data)] == [
        ("subnet_without_host", "10.0.0.8/30", 'host subnet 10.0.0.8/30 of pool "a" belongs to unknown host "gone"'),
        (
            "lease_borrowed_from_unknown_host",
            "10.0.0.9",
            'lease 10.0.0.9 of ctr-9/eth0 on host "h2" is borrowed from host subnet 10.0.0.8/30 of '
            'host "gone", which is not registered',
        ),
    ]


def test_nothing_at_all_is_consistent() -> None:
    assert audit([], [], [], []) == []


def _set(section: str, index: int, **changes: Any) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        data[section][index].update(changes)

    return change


def _add(section: str, item: dict[str, Any]) -> Callable[[Data], None]:
    return lambda data: data[section].append(item)


# (change to the consistent data, expected (kind, subject) pairs, words the message must contain)
CASES: list[tuple[str, Callable[[Data], None], list[tuple[str, str]], str]] = [
    (
        "pools of one space overlapping",
        _add(
            "pools",
            {"name": "z", "space": "default", "cidr": "10.0.0.128/25", "disabled": False, "max_subnets_per_host": 0},
        ),
        [("pools_overlap", "a,z")],
        'pool "a" (10.0.0.0/24) overlaps pool "z" (10.0.0.128/25) in space "default"',
    ),
    (
        "a pool nested deep inside a bigger one, after a smaller neighbour",
        _add("pools", {"name": "big", "space": "other", "cidr": "10.0.0.0/8", "disabled": False}),
        [("pools_overlap", "big,c")],
        "overlaps",
    ),
    (
        "host subnets of one space overlapping",
        _add("subnets", {"cidr": "10.0.0.0/29", "pool": "a", "space": "default", "host": "h2"}),
        [("subnets_overlap", "10.0.0.0/29,10.0.0.0/30"), ("subnets_overlap", "10.0.0.0/29,10.0.0.4/30")],
        "host subnet 10.0.0.0/29",
    ),
    (
        "a subnet without a host",
        _set("subnets", 2, host=""),
        [("subnet_without_host", "10.0.1.0/30"), ("lease_borrowed_from_unknown_host", "10.0.1.2")],
        'host subnet 10.0.1.0/30 of pool "b" has no host',
    ),
    (
        "a subnet of an unknown host",
        _set("subnets", 2, host="ghost"),
        [("subnet_without_host", "10.0.1.0/30"), ("lease_borrowed_from_unknown_host", "10.0.1.2")],
        'unknown host "ghost"',
    ),
    (
        "a subnet outside its pool",
        _add("subnets", {"cidr": "10.9.0.0/30", "pool": "a", "space": "default", "host": "h2"}),
        [("subnet_outside_pool", "10.9.0.0/30")],
        "is outside the pool (10.0.0.0/24)",
    ),
    (
        "a subnet of a pool that does not exist",
        _add("subnets", {"cidr": "10.0.5.0/30", "pool": "gone", "space": "default", "host": "h2"}),
        [("subnet_outside_pool", "10.0.5.0/30")],
        "the pool does not exist",
    ),
    (
        "a subnet in another space than its pool",
        _set("subnets", 3, space="default", cidr="10.0.0.8/30"),
        [("subnet_outside_pool", "10.0.0.8/30"), ("lease_outside_subnet", "10.0.0.2")],
        'is in space "default" but the pool is in space "other"',
    ),
    (
        "an IPv6 subnet in an IPv4 pool",
        _set("subnets", 4, pool="a"),
        [("subnet_outside_pool", "fd00::/64"), ("subnets_beyond_max", "a:h1"), ("lease_outside_subnet", "fd00::2")],
        "outside the pool",
    ),
    (
        "host subnets beyond the pool's max per host",
        _set("pools", 0, max_subnets_per_host=1),
        [("subnets_beyond_max", "a:h1")],
        'host "h1" holds 2 host subnets of pool "a", beyond its max of 1 (10.0.0.0/30, 10.0.0.4/30)',
    ),
    (
        "a lease outside any pool",
        _add("leases", lease("192.168.1.1", "10.0.0.0/30", "a", "h1", "ctr-9")),
        [("lease_outside_pool", "192.168.1.1"), ("lease_outside_subnet", "192.168.1.1")],
        'is outside any pool of space "default"',
    ),
    (
        "a lease in another pool's range than its own",
        _set("leases", 2, pool="a"),
        [
            ("lease_outside_pool", "10.0.1.2"),
            ("lease_outside_subnet", "10.0.1.2"),
            ("owner_multiple_addresses", "a:ctr-1/eth0"),
        ],
        'is recorded in pool "a" but lies in pool "b"',
    ),
    (
        "a lease outside its subnet",
        _set("leases", 0, subnet="10.0.0.4/30"),
        [("lease_outside_subnet", "10.0.0.2")],
        "lies outside its host subnet 10.0.0.4/30",
    ),
    (
        "a lease whose subnet does not exist",
        _set("leases", 1, subnet="10.0.0.64/30"),
        [("lease_outside_subnet", "10.0.0.6")],
        "host subnet 10.0.0.64/30, which does not exist",
    ),
    (
        "a lease whose subnet belongs to another pool",
        _set("subnets", 0, pool="b"),
        [
            ("subnet_outside_pool", "10.0.0.0/30"),
            ("lease_outside_subnet", "10.0.0.2"),
        ],
        'its host subnet 10.0.0.0/30 is in pool "b"',
    ),
    (
        "a lease of an unknown host",
        _set("leases", 2, host="ghost"),
        [("lease_unknown_host", "10.0.1.2")],
        'lease 10.0.1.2 of ctr-1/eth0 on host "ghost": the host is not registered',
    ),
    (
        "leases in a disabled pool",
        _set("pools", 0, disabled=True),
        [("lease_in_disabled_pool", "a")],
        'pool "a" is disabled but holds 2 active leases: 10.0.0.2, 10.0.0.6',
    ),
    (
        "one address held by two leases",
        _add("leases", lease("10.0.1.2", "10.0.1.0/30", "b", "h2", "ctr-7")),
        [("address_leased_twice", "10.0.1.2")],
        '10.0.1.2 (space "default") is held by 2 active leases: ctr-1/eth0, ctr-7/eth0',
    ),
    (
        "an owner key holding two addresses of one pool",
        _set("leases", 1, owner_id="ctr-1"),
        [("owner_multiple_addresses", "a:ctr-1/eth0")],
        'owner ctr-1/eth0 holds 2 active addresses in pool "a": 10.0.0.2, 10.0.0.6',
    ),
    (
        "a record that does not parse",
        _set("leases", 0, address="10.0.0.256"),
        [("invalid_record", "10.0.0.256")],
        "lease address '10.0.0.256'",
    ),
]


@pytest.mark.parametrize(("change", "expected", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem(change: Callable[[Data], None], expected: list[tuple[str, str]], words: str) -> None:
    data = consistent()
    change(data)
    problems = run(data)
    assert [(p.kind, p.subject) for p in problems] == expected
    assert any(words in p.message for p in problems), problems


def test_every_kind_is_tested() -> None:
    tested = {kind for case in CASES for kind, _ in case[2]}
    assert tested == set(KINDS)


def test_same_owner_key_in_two_pools_and_other_interfaces_are_fine() -> None:
    data = consistent()
    data["leases"].append(lease("10.0.0.3", "10.0.0.0/30", "a", "h1", "ctr-1", interface="eth1"))
    assert run(data) == []


def test_docker_network_leases_are_checked_against_their_network_not_host_subnets() -> None:
    data = consistent()
    docker = lease("10.0.1.130", "10.0.1.128/25", "b", "h1", "docker:10.0.1.128/25#10.0.1.130", interface="container")
    data["leases"].append({**docker, "docker_network": "10.0.1.128/25"})
    assert run(data) == []
    data["leases"][-1]["address"] = "10.0.1.5"
    assert [(p.kind, p.subject) for p in run(data)] == [("lease_outside_subnet", "10.0.1.5")]


def test_problems_are_sorted_by_kind_and_the_input_is_not_changed() -> None:
    data = consistent()
    data["pools"][0]["disabled"] = True
    data["leases"][2]["host"] = "ghost"
    data["subnets"][2]["host"] = ""
    before = copy.deepcopy(data)
    kinds = [p.kind for p in run(data)]
    assert kinds == [
        "subnet_without_host",
        "lease_unknown_host",
        "lease_borrowed_from_unknown_host",
        "lease_in_disabled_pool",
    ]
    assert data == before


def test_long_lists_are_cut_short() -> None:
    data = consistent()
    data["pools"][1]["disabled"] = True
    data["subnets"][2]["cidr"] = "10.0.1.0/28"
    data["leases"] += [lease(f"10.0.1.{i}", "10.0.1.0/28", "b", "h2", f"x-{i}") for i in range(3, 10)]
    data["leases"][2]["subnet"] = "10.0.1.0/28"
    (problem,) = run(data)
    assert problem.message.endswith(
        "holds 8 active leases: 10.0.1.2, 10.0.1.3, 10.0.1.4, 10.0.1.5, 10.0.1.6 and 3 more"
    )
