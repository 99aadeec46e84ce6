"""`ipam usage`, `ipam check` and shell completion, driven as subprocesses against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from cli_checks import Cli

from ipam_client import AddressSpec, IpamClient

V6_ASSIGNABLE = 2**64 - 2


def _populate(server: str) -> None:
    """full: 3 of 4 assignable addresses leased, one per /30 of host h1 (a /30 has one assignable
    address); wide: 1 of 244 leased and 1 cooling; v6: one empty /64 (2^64 - 2 assignable); idle: empty."""
    with IpamClient(server, retries=0) as ipam:
        ipam.register_host("h1")
        ipam.register_host("h2")
        ipam.create_pool("full", "10.0.0.0/28", 30)
        ipam.create_pool("wide", "10.1.0.0/24", 26, cooldown_seconds=3600)
        ipam.create_pool("v6", "fd00::/64", 64)
        ipam.create_pool("idle", "10.2.0.0/24", 24)
        for i in range(3):
            ipam.allocate("h1", f"ctr-{i}", "eth0", [AddressSpec(pool="full")])
        ipam.allocate("h2", "ctr-a", "eth0", [AddressSpec(pool="wide")])
        ipam.allocate("h2", "ctr-b", "eth0", [AddressSpec(pool="wide")])
        ipam.release_owner("ctr-b", "eth0")
        ipam.acquire_subnet("h1", "v6")


def test_usage_table_is_sorted_fullest_first_with_bars(server: str, ipam_cli: Cli) -> None:
    _populate(server)
    shown = ipam_cli("usage")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == [
        "POOL", "CIDR", "HOST", "TOTAL", "RESERVED", "ALLOCATED", "COOLING", "FREE", "USED", "BAR",
    ]  # fmt: skip
    pools = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    assert pools == ["full", "wide", "idle", "v6"]
    full, *full_subnets = lines[1:5]
    assert full.split() == ["full", "10.0.0.0/28", "16", "12", "3", "0", "1", "75.0%", "[###############-----]"]
    assert [s.split() for s in full_subnets] == [
        [cidr, "h1", "4", "3", "1", "0", "0", "100.0%", "[####################]"]
        for cidr in ("10.0.0.0/30", "10.0.0.4/30", "10.0.0.8/30")
    ]
    wide = lines[5].split()
    # 1 of 244 assignable: never shown as an empty bar; the cooling address is '~'.
    assert wide == ["wide", "10.1.0.0/24", "256", "12", "1", "1", "242", "0.4%", "[#~------------------]"]
    assert lines[6].split()[1:] == ["h2", "64", "3", "1", "1", "59", "1.6%", "[#~------------------]"]
    assert lines[7].split() == ["idle", "10.2.0.0/24", "256", "3", "0", "0", "253", "0.0%", "[--------------------]"]
    # 2^64 - 2 is humanized in the table.
    assert lines[8].split() == ["v6", "fd00::/64", "18.4E", "2", "0", "0", "18.4E", "0.0%", "[--------------------]"]
    assert lines[9].split() == ["fd00::/64", "h1", "18.4E", "2", "0", "0", "18.4E", "0.0%", "[--------------------]"]
    assert len(lines) == 10
    assert shown.stderr == ""


def test_usage_warn_json_yaml_and_one_pool(server: str, ipam_cli: Cli) -> None:
    _populate(server)
    warned = ipam_cli("usage", "--warn", "75", "-o", "json")
    assert warned.returncode == 1
    assert warned.stderr == (
        'ipam: warning: pool "full" is 75.0% used (3 of 4 assignable addresses), at or above --warn 75%\n'
    )
    report = json.loads(warned.stdout)
    assert [(p["name"], p["warn"]) for p in report] == [("full", True), ("wide", False), ("idle", False), ("v6", False)]
    v6 = report[3]
    assert v6["total_addresses"] == 2**64 and v6["free_addresses"] == V6_ASSIGNABLE
    assert v6["assignable_addresses"] == V6_ASSIGNABLE and v6["percent_used"] == 0.0
    assert v6["subnets"] == [
        {
            "cidr": "fd00::/64",
            "host": "h1",
            "total_addresses": 2**64,
            "reserved_addresses": 2,
            "allocated_addresses": 0,
            "cooling_addresses": 0,
            "free_addresses": V6_ASSIGNABLE,
            "assignable_addresses": V6_ASSIGNABLE,
            "percent_used": 0.0,
        }
    ]
    assert report[0]["percent_used"] == 75.0 and report[0]["total_subnets"] == 4
    assert report[0]["allocated_subnets"] == 3 and len(report[0]["subnets"]) == 3
    assert str(V6_ASSIGNABLE) in warned.stdout  # an exact integer, not a float

    quiet = ipam_cli("usage", "--warn", "80", "--pools-only", "-o", "yaml")
    assert (quiet.returncode, quiet.stderr) == (0, "")
    pools = yaml.safe_load(quiet.stdout)
    assert [p["name"] for p in pools] == ["full", "wide", "idle", "v6"]
    assert not any(p["warn"] for p in pools) and all("subnets" not in p for p in pools)
    assert pools[3]["free_addresses"] == V6_ASSIGNABLE

    one = ipam_cli("usage", "wide")
    assert one.returncode == 0, one.stderr
    assert [line.split()[0] for line in one.stdout.splitlines()] == ["POOL", "wide", "10.1.0.0/26"]


def test_usage_and_check_failures(ipam_cli: Cli) -> None:
    unknown = ipam_cli("usage", "nope")
    assert (unknown.returncode, unknown.stderr) == (1, 'ipam: error: pool "nope" does not exist\n')
    for command in ("usage", "check"):
        unreachable = ipam_cli(command, "--server", "127.0.0.1:1", "--timeout", "1")
        assert unreachable.returncode == 3, unreachable.stderr
        assert unreachable.stderr.startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")
        assert len(unreachable.stderr.splitlines()) == 1
    bad = ipam_cli("usage", "--warn", "120")
    assert bad.returncode == 2 and "expected a percentage between 0 and 100" in bad.stderr
    helped = ipam_cli("usage", "--help")
    assert "examples:" in helped.stdout and "exit status:" in helped.stdout


def test_check_clean_then_problems(server: str, ipam_cli: Cli) -> None:
    _populate(server)
    clean = ipam_cli("check")
    assert (clean.returncode, clean.stderr) == (0, "")
    assert clean.stdout == "no problems found (checked 4 pools, 5 host subnets, 2 hosts, 4 active leases)\n"

    with IpamClient(server, retries=0) as ipam:
        ipam.update_pool("wide", disabled=True)
        ipam.update_pool("full", max_subnets_per_host=2)
    found = ipam_cli("check")
    assert found.returncode == 1, found.stderr
    assert found.stderr == ""
    lines = found.stdout.splitlines()
    assert lines[0].split() == ["KIND", "SUBJECT", "PROBLEM"]
    assert lines[1].split()[:2] == ["subnets_beyond_max", "full:h1"]
    assert 'host "h1" holds 3 host subnets of pool "full", beyond its max of 2' in lines[1]
    assert lines[2].split()[:2] == ["lease_in_disabled_pool", "wide"]
    assert 'pool "wide" is disabled but holds 1 active lease: 10.1.0.2' in lines[2]
    assert lines[3] == "2 problems found (checked 4 pools, 5 host subnets, 2 hosts, 4 active leases)"

    report = json.loads(ipam_cli("check", "-o", "json").stdout)
    assert report["clean"] is False
    assert report["checked"] == {"pools": 4, "host_subnets": 5, "hosts": 2, "active_leases": 4}
    assert [(p["kind"], p["subject"]) for p in report["problems"]] == [
        ("subnets_beyond_max", "full:h1"),
        ("lease_in_disabled_pool", "wide"),
    ]
    assert all(set(p) == {"kind", "subject", "message"} for p in report["problems"])


def test_check_json_when_empty(ipam_cli: Cli) -> None:
    empty = ipam_cli("check", "-o", "json")
    assert empty.returncode == 0, empty.stderr
    assert json.loads(empty.stdout) == {
        "clean": True,
        "problems": [],
        "checked": {"pools": 0, "host_subnets": 0, "hosts": 0, "active_leases": 0},
    }


def _complete(line: str) -> list[str]:
    """Ask `ipam` for completions the way argcomplete's shell hook does: answers come on fd 8."""
    read, write = os.pipe()
    saved = _dup_if_open(8)
    os.dup2(write, 8)
    os.close(write)
    try:
        env = {**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line))}
        env["_ARGCOMPLETE_IFS"] = "\n"
        done = subprocess.run(
            [sys.executable, "-m", "ipam"], env=env, pass_fds=(8,), capture_output=True, text=True, timeout=60
        )
    finally:
        if saved is None:
            os.close(8)
        else:
            os.dup2(saved, 8)
            os.close(saved)
    with os.fdopen(read) as answers:
        completions = answers.read()
    assert done.returncode == 0, done.stderr
    return completions.split()


def _dup_if_open(fd: int) -> int | None:
    try:
        return os.dup(fd)
    except OSError:
        return None


def test_shell_completion_offers_commands_and_options() -> None:
    assert _complete("ipam po") == ["pool"]
    assert "usage" in _complete("ipam u")
    assert _complete("ipam usage --wa") == ["--warn"]
