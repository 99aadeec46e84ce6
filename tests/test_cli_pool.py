"""`ipam pool` driven as a subprocess against a real server."""

from __future__ import annotations

import json
import re

import yaml
from cli_checks import Cli, fields, ok, one_error_line, rows, usage_error

from ipam_client import AddressSpec, IpamClient

SECONDS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_pool_create_show_update_toggle_list_delete(ipam_cli: Cli) -> None:
    created = ok(
        ipam_cli("pool", "create", "p4", "10.0.0.0/24", "--host-prefix-length", "26", "--reserve", "10.0.0.0/28")
    )
    # One pool: its settings, then its usage, as `key: value` lines.
    settings, usage = (fields(block) for block in created.split("\n\n"))
    assert settings == {
        "name": "p4",
        "space": "default",
        "cidr": "10.0.0.0/24",
        "host prefix": "/26",
        "gateway": "first-usable",
        "reserved": "10.0.0.0/28",
        "selector": "-",
        "cooldown": "0",
        "max per host": "unlimited",
        "disabled": "no",
        "created": settings["created"],
    }
    assert SECONDS.fullmatch(settings["created"])
    assert created.startswith("name:         p4\nspace:        default\n")
    # 256 addresses: 16 reserved, plus the network, gateway and broadcast of the 3 subnets outside them.
    assert usage == {
        "subnets": "0/4",
        "free subnets": "4",
        "addresses": "256",
        "reserved": "26",
        "allocated": "0",
        "cooling": "0",
        "free": "230",
        "used": "0.0%",
    }

    six = ipam_cli(
        "pool",
        *("create", "p6", "fd00::/48", "--host-prefix-length", "64", "--selector", "zone=a,env!=dev"),
        *("--cooldown", "300", "--max-subnets-per-host", "2", "--gateway", "none", "--disabled", "-o", "json"),
    )
    pool = json.loads(ok(six))
    assert {k: pool[k] for k in ("name", "space", "cidr", "family", "host_prefix_length", "host_selector")} == {
        "name": "p6",
        "space": "default",
        "cidr": "fd00::/48",
        "family": "FAMILY_IPV6",
        "host_prefix_length": 64,
        "host_selector": "zone=a,env!=dev",
    }
    assert (pool["cooldown_seconds"], pool["max_subnets_per_host"]) == ("300", 2)
    assert (pool["gateway_policy"], pool["disabled"], pool["reserved_cidrs"]) == ("GATEWAY_POLICY_NONE", True, [])

    shown = yaml.safe_load(ok(ipam_cli("pool", "show", "p4", "-o", "yaml")))
    assert shown["usage"]["total_subnets"] == "4" and shown["usage"]["free_addresses"] == "230"
    assert shown["reserved_cidrs"] == ["10.0.0.0/28"]

    updated = ipam_cli(
        "pool",
        *("update", "p4", "--cooldown", "60", "--max-subnets-per-host", "1", "--selector", "zone=b"),
        *("--reserve", "10.0.0.0/29", "10.0.0.248/29", "-o", "json"),
    )
    pool = json.loads(ok(updated))
    assert (pool["cooldown_seconds"], pool["max_subnets_per_host"], pool["host_selector"]) == ("60", 1, "zone=b")
    assert pool["reserved_cidrs"] == ["10.0.0.0/29", "10.0.0.248/29"]
    cleared = json.loads(ok(ipam_cli("pool", "update", "p4", "--clear-reserved", "--selector", "", "-o", "json")))
    assert (cleared["reserved_cidrs"], cleared["host_selector"], cleared["cooldown_seconds"]) == ([], "", "60")

    assert ok(ipam_cli("pool", "disable", "p4")) == 'pool "p4" disabled\n'
    assert json.loads(ok(ipam_cli("pool", "enable", "p6", "-o", "json")))["disabled"] is False

    listed = rows(ok(ipam_cli("pool", "list")))
    header = "NAME SPACE CIDR HOST PREFIX SUBNETS ALLOCATED FREE USED SELECTOR DISABLED"
    assert listed[0] == header.split()
    assert listed[1] == ["p4", "default", "10.0.0.0/24", "/26", "0/4", "0", "244", "0.0%", "-", "yes"]
    assert listed[2][:6] == ["p6", "default", "fd00::/48", "/64", "0/65536", "0"]
    assert listed[2][-2:] == ["zone=a,env!=dev", "no"]
    assert [p["name"] for p in yaml.safe_load(ok(ipam_cli("pool", "list", "--limit", "1", "-o", "yaml")))] == ["p4"]

    assert ok(ipam_cli("pool", "delete", "p6")) == 'pool "p6" deleted\n'
    assert [p["name"] for p in json.loads(ok(ipam_cli("pool", "list", "--space", "default", "-o", "json")))] == ["p4"]


def test_pool_delete_with_leases_needs_force(ipam_cli: Cli, client: IpamClient) -> None:
    client.create_pool("p", "10.0.0.0/24", 26)
    client.register_host("h1")
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p")])

    refused = one_error_line(ipam_cli("pool", "delete", "p"), 1)
    assert 'pool "p"' in refused and "1 active lease" in refused
    assert ok(ipam_cli("pool", "delete", "p", "--force")) == 'pool "p" deleted\n'
    assert client.list_pools() == []


def test_pool_failures_are_one_line_with_distinct_exit_codes(ipam_cli: Cli) -> None:
    bad_cidr = ipam_cli("pool", "create", "p", "10.0.0.1/24", "--host-prefix-length", "26")
    assert (
        one_error_line(bad_cidr, 1) == "ipam: error: cidr: '10.0.0.1/24' has host bits set; did you mean '10.0.0.0/24'?"
    )
    bad_reserve = ipam_cli("pool", "create", "p", "10.0.0.0/24", "--host-prefix-length", "26", "--reserve", "banana")
    assert "reserved_cidrs[0]" in one_error_line(bad_reserve, 1) and "'banana'" in bad_reserve.stderr
    bad_prefix = ipam_cli("pool", "create", "p", "10.0.0.0/24", "--host-prefix-length", "16")
    assert "host_prefix_length" in one_error_line(bad_prefix, 1)
    assert one_error_line(ipam_cli("pool", "show", "nope"), 1) == 'ipam: error: pool "nope" does not exist'
    assert 'pool "nope"' in one_error_line(ipam_cli("pool", "disable", "nope"), 1)

    assert "--host-prefix-length" in usage_error(ipam_cli("pool", "create", "p", "10.0.0.0/24"))
    assert "nothing to update" in usage_error(ipam_cli("pool", "update", "p"))
    both = usage_error(ipam_cli("pool", "update", "p", "--reserve", "10.0.0.0/28", "--clear-reserved"))
    assert "not allowed with" in both
    gateway = usage_error(
        ipam_cli("pool", "create", "p", "10.0.0.0/24", "--host-prefix-length", "26", "--gateway", "x")
    )
    assert "--gateway" in gateway and "'x'" in gateway

    unreachable = ipam_cli("pool", "list", "--server", "127.0.0.1:1", "--timeout", "1")
    assert one_error_line(unreachable, 3).startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")
