"""`ipam lease` driven as a subprocess against a real server."""

from __future__ import annotations

import json

import pytest
import yaml
from cli_checks import Cli, one_error_line, usage_error

from ipam.cli import main
from ipam_client import AddressSpec, IpamClient, pb


def test_lease_create_list_show_release(ipam_cli: Cli, server: str) -> None:
    with IpamClient(server) as ipam:
        ipam.create_pool("v4", "10.1.0.0/16", 24)
        ipam.create_pool("v6", "fd00:1::/48", 64)
        ipam.register_host("node-1", {"zone": "a"})

    # Dual-stack, with attributes, as JSON: the AllocateResponse with its stable field names.
    dual = ipam_cli(
        "lease", "create", "--host", "node-1", "--owner", "c1", "--pool", "v4", "--pool", "v6",
        "--attribute", "app=web", "-o", "json",
    )  # fmt: skip
    assert dual.returncode == 0, dual.stderr
    reply = json.loads(dual.stdout)
    assert reply["already_allocated"] is False
    assert [(lease["pool"], lease["family"]) for lease in reply["leases"]] == [
        ("v4", "FAMILY_IPV4"),
        ("v6", "FAMILY_IPV6"),
    ]
    assert all(lease["attributes"] == {"app": "web"} for lease in reply["leases"])
    assert all((lease["owner_id"], lease["interface"]) == ("c1", "eth0") for lease in reply["leases"])

    # A specific address with two pools goes to the pool that holds it; table output.
    specific = ipam_cli(
        "lease", "create", "--host", "node-1", "--owner", "c2", "--interface", "eth1",
        "--pool", "v4", "--pool", "v6", "--address", "10.1.0.20",
    )  # fmt: skip
    assert specific.returncode == 0, specific.stderr
    header, *rows = specific.stdout.splitlines()
    assert header.split()[:3] == ["ADDRESS", "GATEWAY", "POOL"]
    assert rows[0].split()[:3] == ["10.1.0.20/24", "10.1.0.1", "v4"] and "c2/eth1" in rows[0]
    assert rows[1].startswith("fd00:1::") and "active" in rows[1]

    # Asking again is answered with the leases held (YAML), and says so.
    again = ipam_cli(
        "lease", "create", "--host", "node-1", "--owner", "c1", "--pool", "v4", "--pool", "v6", "-o", "yaml"
    )
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load(again.stdout)["already_allocated"] is True

    listed = json.loads(ipam_cli("lease", "list", "-o", "json").stdout)
    assert sorted((lease["owner_id"], lease["pool"]) for lease in listed) == [
        ("c1", "v4"),
        ("c1", "v6"),
        ("c2", "v4"),
        ("c2", "v6"),
    ]
    assert len(json.loads(ipam_cli("lease", "list", "--limit", "1", "-o", "json").stdout)) == 1
    table = ipam_cli("lease", "list", "--owner", "c2", "--pool", "v4")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["ADDRESS", "POOL", "HOST", "OWNER", "STATE", "SINCE", "RELEASED"]
    assert len(table.stdout.splitlines()) == 2 and "10.1.0.20/24  v4    node-1  c2/eth1  active" in table.stdout

    shown = ipam_cli("lease", "show", "10.1.0.20")
    assert shown.returncode == 0, shown.stderr
    assert "10.1.0.20/24" in shown.stdout and "c2/eth1" in shown.stdout and "active" in shown.stdout

    by_address = ipam_cli("lease", "release", "10.1.0.20")
    assert (by_address.returncode, by_address.stdout) == (0, "released 10.1.0.20/24 (pool v4, owner c2/eth1)\n")
    repeated = ipam_cli("lease", "release", "10.1.0.20")
    assert repeated.returncode == 0 and "already released" in repeated.stdout

    by_owner = ipam_cli("lease", "release", "--owner", "c1", "-o", "json")
    assert by_owner.returncode == 0, by_owner.stderr
    released = json.loads(by_owner.stdout)
    assert released["already_released"] is False
    assert {lease["state"] for lease in released["leases"]} == {"LEASE_STATE_RELEASED"}
    assert len(released["leases"]) == 2
    owner_again = ipam_cli("lease", "release", "--owner", "c1")
    assert owner_again.stdout == "owner c1/eth0: already released (nothing active to release)\n"

    history = yaml.safe_load(ipam_cli("lease", "list", "--state", "released", "-o", "yaml").stdout)
    assert sorted(lease["address"] for lease in history) == sorted(
        [reply["leases"][0]["address"], reply["leases"][1]["address"], "10.1.0.20"]
    )
    assert len(json.loads(ipam_cli("lease", "list", "--state", "all", "-o", "json").stdout)) == 4


def test_bulk_release_needs_filters_and_confirmation_and_is_quiet_when_piped(ipam_cli: Cli, server: str) -> None:
    with IpamClient(server) as ipam:
        ipam.create_pool("bulk", "10.2.0.0/16", 24)
        ipam.create_pool("other", "10.3.0.0/16", 24)
        for host in ("node-1", "node-2"):
            ipam.register_host(host)
        for i in range(5):
            ipam.allocate("node-1", f"job-{i}", "eth0", [AddressSpec(pool="bulk")])
        ipam.allocate("node-1", "svc-1", "eth0", [AddressSpec(pool="bulk")])
        ipam.allocate("node-2", "job-5", "eth0", [AddressSpec(pool="bulk")])
        ipam.allocate("node-2", "job-6", "eth0", [AddressSpec(pool="other")])

        assert "at least one filter" in usage_error(ipam_cli("lease", "release", "--all", "--yes"))
        assert "add --yes" in usage_error(ipam_cli("lease", "release", "--all", "--host", "node-1"))

        dry = ipam_cli("lease", "release", "--all", "--host", "node-1", "--owner-prefix", "job-", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        lines = dry.stdout.splitlines()
        assert lines[0].startswith("ADDRESS") and len(lines) == 7
        assert all("/eth0" in line and "job-" in line for line in lines[1:6])
        assert lines[-1] == "5 active leases would be released (run again with --yes to release)"
        assert len(ipam.list_leases(host="node-1", state=pb.LEASE_STATE_ACTIVE)) == 6

        bulk = ipam_cli("lease", "release", "--all", "--host", "node-1", "--owner-prefix", "job-", "--yes")
        assert bulk.returncode == 0, bulk.stderr
        assert bulk.stdout == "released 5 of 5 matching leases (0 already released, 0 failed)\n"
        assert bulk.stderr == ""  # piped: no progress bar
        remaining = ipam.list_leases(state=pb.LEASE_STATE_ACTIVE)
        assert sorted((lease.host, lease.owner_id) for lease in remaining) == [
            ("node-1", "svc-1"),
            ("node-2", "job-5"),
            ("node-2", "job-6"),
        ]

        by_pool = ipam_cli("lease", "release", "--all", "--pool", "bulk", "--yes", "-o", "json")
        assert by_pool.returncode == 0, by_pool.stderr
        summary = json.loads(by_pool.stdout)
        assert {k: summary[k] for k in ("dry_run", "matched", "released", "already_released", "failed")} == {
            "dry_run": False,
            "matched": 2,
            "released": 2,
            "already_released": 0,
            "failed": 0,
        }
        assert sorted(lease["owner_id"] for lease in summary["leases"]) == ["job-5", "svc-1"]
        assert [lease.owner_id for lease in ipam.list_leases(state=pb.LEASE_STATE_ACTIVE)] == ["job-6"]

    unknown = ipam_cli("lease", "release", "--all", "--pool", "nope", "--yes")
    assert 'pool "nope"' in one_error_line(unknown, 1)


def test_lease_failures_are_one_line_with_distinct_exit_codes(ipam_cli: Cli, server: str) -> None:
    with IpamClient(server) as ipam:
        ipam.create_pool("v4", "10.1.0.0/16", 24)
        ipam.register_host("node-1")

    bad_address = ipam_cli("lease", "show", "10.1.0.300")
    assert one_error_line(bad_address, 1) == "ipam: error: address: '10.1.0.300' is not a valid IP address"
    bad_release = ipam_cli("lease", "release", "not-an-ip")
    assert "is not a valid IP address" in one_error_line(bad_release, 1)
    never = ipam_cli("lease", "show", "10.1.0.9")
    assert "has never been leased" in one_error_line(never, 1)
    unknown_pool = ipam_cli("lease", "create", "--host", "node-1", "--owner", "c1", "--pool", "nope")
    assert 'pool "nope"' in one_error_line(unknown_pool, 1)
    outside = ipam_cli("lease", "create", "--host", "node-1", "--owner", "c1", "--pool", "v4", "--address", "10.9.0.1")
    assert "10.9.0.1" in one_error_line(outside, 1)
    unknown_filter = ipam_cli("lease", "list", "--pool", "nope")
    assert 'pool "nope"' in one_error_line(unknown_filter, 1)

    assert "exactly one of ADDRESS, --owner ID, or --all" in usage_error(ipam_cli("lease", "release"))
    assert "(got ADDRESS and --owner)" in usage_error(ipam_cli("lease", "release", "10.1.0.5", "--owner", "c1"))
    assert "--pool: only with --all" in usage_error(ipam_cli("lease", "release", "--owner", "c1", "--pool", "v4"))
    assert "expected KEY=VALUE" in usage_error(
        ipam_cli("lease", "create", "--host", "h", "--owner", "o", "--pool", "p", "--attribute", "novalue")
    )
    assert "--host" in usage_error(ipam_cli("lease", "create", "--owner", "o", "--pool", "p"))
    assert "invalid choice" in usage_error(ipam_cli("lease", "list", "--state", "gone"))

    unreachable = ipam_cli("lease", "list", "--server", "127.0.0.1:1", "--timeout", "1")
    assert one_error_line(unreachable, 3).startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")


@pytest.mark.parametrize("verb", ["create", "list", "show", "release"])
def test_every_lease_verb_has_examples(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["lease", verb, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text and f"ipam lease {verb}" in text
