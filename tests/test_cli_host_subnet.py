"""`ipam host` and `ipam subnet` driven as a subprocess against a real server."""

from __future__ import annotations

import json

import yaml
from cli_checks import Cli, fields, ok, one_error_line, rows, usage_error
from test_cli_pool import SECONDS

from ipam_client import AddressSpec, IpamClient, pb


def test_host_create_list_show_update(ipam_cli: Cli) -> None:
    created = fields(ok(ipam_cli("host", "create", "h1", "--label", "zone=a", "--label", "env=prod", "rack=")))
    assert list(created) == ["name", "state", "labels", "last heartbeat", "ttl", "drained", "created"]
    assert (created["state"], created["ttl"], created["drained"]) == ("alive", "30", "-")
    assert (created["name"], created["labels"]) == ("h1", "env=prod,rack=,zone=a")
    assert SECONDS.fullmatch(created["created"]) and SECONDS.fullmatch(created["last heartbeat"])
    ok(ipam_cli("host", "create", "h2"))
    duplicate = one_error_line(ipam_cli("host", "create", "h1", "--label", "zone=b"), 1)
    assert duplicate == 'ipam: error: host "h1" already exists (change its labels with `ipam host update`)'

    # Merged: zone changes, env goes, rack stays, dc comes; a missing key is only a warning.
    updated = ipam_cli(
        "host", "update", "h1", "--label", "zone=b", "dc=x", "--remove-label", "env", "nokey", "-o", "json"
    )
    assert updated.returncode == 0 and updated.stderr == 'ipam: warning: host "h1" has no label "nokey"\n'
    assert json.loads(updated.stdout)["labels"] == {"dc": "x", "rack": "", "zone": "b"}
    replaced = ipam_cli("host", "update", "h1", "--replace", "--label", "zone=c", "-o", "yaml")
    assert yaml.safe_load(ok(replaced))["labels"] == {"zone": "c"}

    listed = json.loads(ok(ipam_cli("host", "list", "-o", "json")))
    assert [(h["name"], h["labels"]) for h in listed] == [("h1", {"zone": "c"}), ("h2", {})]
    assert set(listed[0]) == {"name", "labels", "create_time", "last_seen_time", "state", "heartbeat_ttl_seconds"}
    assert listed[0]["state"] == "HOST_STATE_ALIVE"
    assert [h["name"] for h in json.loads(ok(ipam_cli("host", "list", "--limit", "1", "-o", "json")))] == ["h1"]
    shown = fields(ok(ipam_cli("host", "show", "h2")))
    assert (shown["name"], shown["labels"]) == ("h2", "-")
    listed_table = rows(ok(ipam_cli("host", "list")))
    assert listed_table[0] == ["NAME", "STATE", "LABELS", "LAST", "HEARTBEAT", "TTL", "DRAINED", "CREATED"]
    assert listed_table[1][:2] == ["h1", "alive"] and listed_table[1][4:6] == ["30", "-"]
    assert SECONDS.fullmatch(listed_table[1][3]) and SECONDS.fullmatch(listed_table[1][6])

    assert one_error_line(ipam_cli("host", "show", "ghost"), 1) == 'ipam: error: host "ghost" is not registered'
    # Updating must not register a host by mistake.
    assert 'host "ghost"' in one_error_line(ipam_cli("host", "update", "ghost", "--label", "a=b"), 1)

    assert usage_error(ipam_cli("host", "create", "h3", "--label", "zone")).endswith(
        "argument --label: expected KEY=VALUE, got 'zone'"
    )
    assert "got '=a'" in usage_error(ipam_cli("host", "update", "h1", "--label", "=a"))
    assert "nothing to update" in usage_error(ipam_cli("host", "update", "h1"))
    unreachable = ipam_cli("host", "list", "--server", "127.0.0.1:1", "--timeout", "1")
    assert one_error_line(unreachable, 3).startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")


def test_subnet_create_list_show_release(ipam_cli: Cli, client: IpamClient) -> None:
    client.create_pool("p", "10.0.0.0/24", 26)
    client.create_pool("p6", "fd00::/48", 64, gateway_policy=pb.GATEWAY_POLICY_NONE)
    client.register_host("h1")
    client.register_host("h2")

    created = fields(ok(ipam_cli("subnet", "create", "--host", "h1", "--pool", "p")))
    assert created == {
        "cidr": "10.0.0.0/26",
        "pool": "p",
        "space": "default",
        "host": "h1",
        "gateway": "10.0.0.1",
        "allocated": "0",
        "cooling": "0",
        "free": "61",
        "used": "0.0%",
        "created": created["created"],
    }
    assert SECONDS.fullmatch(created["created"])
    six = json.loads(
        ok(ipam_cli("subnet", "create", "--host", "h1", "--space", "default", "--family", "6", "-o", "json"))
    )
    assert (six["cidr"], six["pool"], six["gateway"]) == ("fd00::/64", "p6", "")
    ok(ipam_cli("subnet", "create", "--host", "h2", "--pool", "p"))
    client.allocate("h2", "c1", "eth0", [AddressSpec(pool="p")])

    listed = rows(ok(ipam_cli("subnet", "list", "--pool", "p")))
    assert [r[:4] + r[5:9] for r in listed[1:]] == [
        ["10.0.0.0/26", "p", "default", "h1", "0", "0", "61", "0.0%"],
        ["10.0.0.64/26", "p", "default", "h2", "1", "0", "60", "1.6%"],
    ]
    of_h1 = json.loads(ok(ipam_cli("subnet", "list", "--host", "h1", "-o", "json")))
    assert sorted(s["cidr"] for s in of_h1) == ["10.0.0.0/26", "fd00::/64"]
    free = {s["cidr"]: s["usage"]["free_addresses"] for s in of_h1}
    assert free["10.0.0.0/26"] == "61" and int(free["fd00::/64"]) > 2**63
    assert len(yaml.safe_load(ok(ipam_cli("subnet", "list", "--limit", "2", "-o", "yaml")))) == 2

    shown = yaml.safe_load(ok(ipam_cli("subnet", "show", "10.0.0.64/26", "-o", "yaml")))
    assert (shown["cidr"], shown["host"], shown["usage"]["allocated_addresses"]) == ("10.0.0.64/26", "h2", "1")
    wider = one_error_line(ipam_cli("subnet", "show", "10.0.0.0/25"), 1)
    assert wider == (
        'ipam: error: no host subnet 10.0.0.0/25 in address space "default" '
        '(10.0.0.0/26 of pool "p", host "h1", holds that address)'
    )
    host_bits = one_error_line(ipam_cli("subnet", "show", "10.0.0.65/26"), 1)
    assert host_bits == "ipam: error: cidr: '10.0.0.65/26' has host bits set; did you mean '10.0.0.64/26'?"
    assert "'garbage'" in one_error_line(ipam_cli("subnet", "show", "garbage"), 1)

    refused = one_error_line(ipam_cli("subnet", "release", "10.0.0.64/26"), 1)
    assert "10.0.0.64/26" in refused and "1 active lease" in refused
    released = ok(ipam_cli("subnet", "release", "10.0.0.64/26", "--force"))
    assert released == 'host subnet 10.0.0.64/26 released from address space "default"\n'
    gone = one_error_line(ipam_cli("subnet", "show", "10.0.0.64/26"), 1)
    assert gone == 'ipam: error: no host subnet 10.0.0.64/26 in address space "default"'
    assert "'10.0.0.1/26'" in one_error_line(ipam_cli("subnet", "release", "10.0.0.1/26"), 1)
    assert sorted(s.cidr for s in client.list_subnets()) == ["10.0.0.0/26", "fd00::/64"]


def test_subnet_failures_are_one_line_with_distinct_exit_codes(ipam_cli: Cli, client: IpamClient) -> None:
    client.create_pool("p", "10.0.0.0/24", 26, host_selector="zone=a")
    client.register_host("h1", {"zone": "b"})

    assert one_error_line(ipam_cli("subnet", "create", "--host", "h1", "--pool", "nope"), 1) == (
        'ipam: error: pool "nope" does not exist'
    )
    mismatch = one_error_line(ipam_cli("subnet", "create", "--host", "h1", "--pool", "p"), 1)
    assert 'pool "p"' in mismatch and 'host "h1"' in mismatch and "zone=b" in mismatch
    assert 'host "ghost"' in one_error_line(ipam_cli("subnet", "create", "--host", "ghost", "--pool", "p"), 1)
    assert 'pool "nope"' in one_error_line(ipam_cli("subnet", "list", "--pool", "nope"), 1)

    assert "--host" in usage_error(ipam_cli("subnet", "create", "--pool", "p"))
    both = usage_error(ipam_cli("subnet", "create", "--host", "h1", "--pool", "p", "--space", "default"))
    assert "not allowed with" in both
    assert "--family" in usage_error(ipam_cli("subnet", "create", "--host", "h1", "--pool", "p", "--family", "4"))
    unreachable = ipam_cli("subnet", "list", "--server", "127.0.0.1:1", "--timeout", "1")
    assert one_error_line(unreachable, 3).startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")
