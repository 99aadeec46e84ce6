"""`ipam host drain|undrain|delete` and `ipam gc`, `ipam gc history` as a subprocess against a real server."""

from __future__ import annotations

import json

from cli_checks import Cli, fields, ok, one_error_line, rows, usage_error
from sqlalchemy import Engine, text

from ipam_client import AddressSpec, IpamClient


def _dead_host_with_leases(client: IpamClient, engine: Engine, count: int) -> list[str]:
    client.create_pool("gc4", "10.50.0.0/16", 28)
    client.register_host("node-1")
    addresses = [
        client.allocate("node-1", f"c{i}", "eth0", [AddressSpec(pool="gc4")]).leases[0].address for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(text("UPDATE lease SET allocated_at = now() - interval '1 hour'"))
        conn.execute(text("UPDATE host_subnet SET created_at = now() - interval '1 hour'"))
        conn.execute(text("UPDATE host SET last_seen_at = now() - interval '20 minutes'"))
    return addresses


def test_gc_dry_run_then_for_real_then_history(ipam_cli: Cli, client: IpamClient, engine: Engine) -> None:
    addresses = _dead_host_with_leases(client, engine, 2)
    assert fields(ok(ipam_cli("host", "show", "node-1")))["state"] == "dead"

    dry = ok(ipam_cli("gc", "--dry-run"))
    assert dry.startswith("dry run: would reclaim 3 items (grace 0:15:00, ")
    table = rows(dry)
    assert table[1] == ["REASON", "KIND", "CANDIDATES", "RECLAIMED"]
    assert ["dead_host", "lease", "2", "0"] in table and ["dead_host", "subnet", "1", "0"] in table
    assert len(client.list_leases(host="node-1", state=1)) == 2  # the dry run changed nothing

    # Paced to half of the time: the same collection, only with rests between its transactions.
    report = json.loads(ok(ipam_cli("gc", "--grace", "10m", "--duty", "0.5", "-o", "json")))
    assert report["dry_run"] is False and report["grace"] == "600s"
    assert sorted(i["target"] for i in report["items"] if i["kind"] == "lease") == sorted(addresses)
    assert client.list_leases(host="node-1", state=1) == []

    history = rows(ok(ipam_cli("gc", "history")))
    assert history[0] == ["ID", "TIME", "REASON", "KIND", "HOST", "POOL", "TARGET", "OWNER", "DETAIL"]
    assert [row[2:5] for row in history[1:]] == [["dead_host", "subnet", "node-1"]] + [
        ["dead_host", "lease", "node-1"]
    ] * 2
    limited = json.loads(ok(ipam_cli("gc", "history", "--reason", "dead_host", "--limit", "1", "-o", "json")))
    assert [r["item"]["kind"] for r in limited] == ["subnet"]
    assert json.loads(ok(ipam_cli("gc", "history", "--reason", "runtime_gone", "-o", "json"))) == []


def test_drain_undrain_delete(ipam_cli: Cli, client: IpamClient) -> None:
    client.create_pool("gc4", "10.50.0.0/16", 28)
    client.register_host("node-1")
    client.allocate("node-1", "c1", "eth0", [AddressSpec(pool="gc4")])
    refused = one_error_line(ipam_cli("host", "delete", "node-1"), 1)
    assert refused == (
        'ipam: error: host "node-1" is alive and not drained: run `ipam host drain node-1` first '
        "(no new allocations to it), then delete it"
    )
    assert fields(ok(ipam_cli("host", "drain", "node-1")))["drained"] != "-"
    assert fields(ok(ipam_cli("host", "undrain", "node-1")))["drained"] == "-"
    ok(ipam_cli("host", "drain", "node-1"))
    deleted = ok(ipam_cli("host", "delete", "node-1"))
    assert deleted.splitlines()[:2] == [
        'deleted host "node-1", released 1 lease and 1 host subnet',
        "the host stays listed, drained and holding nothing: the endpoint history refers to it",
    ]
    assert [row[:2] for row in rows(deleted)[3:]] == [["host_deleted", "lease"], ["host_deleted", "subnet"]]
    client.register_host("node-2")
    ok(ipam_cli("host", "drain", "node-2"))
    assert ok(ipam_cli("host", "delete", "node-2")).splitlines() == [
        'deleted host "node-2", released 0 leases and 0 host subnets'
    ]
    assert one_error_line(ipam_cli("host", "drain", "node-2"), 1) == 'ipam: error: host "node-2" is not registered'


def test_bad_durations_and_hosts(ipam_cli: Cli) -> None:
    assert usage_error(ipam_cli("gc", "--grace=-5m")).endswith("'-5m' is negative; durations are 0 or more")
    assert usage_error(ipam_cli("gc", "--grace", "40d")).endswith("'40d' is longer than 30 days")
    assert usage_error(ipam_cli("gc", "--grace", "soon")).endswith(
        "'soon' is not a duration (e.g. 90s, 15m, 1h30m, 2d)"
    )
    assert usage_error(ipam_cli("gc", "--grace", "1500ms")).endswith("'1500ms': whole seconds only")
    assert usage_error(ipam_cli("gc", "--duty", "0")).endswith(
        "0 is out of range (0.05 .. 1, the share of time it works)"
    )
    assert usage_error(ipam_cli("gc", "--duty", "half")).endswith("expected a fraction such as 0.5, got 'half'")
    assert one_error_line(ipam_cli("gc", "--host", "ghost"), 1) == 'ipam: error: host "ghost" is not registered'
    assert "invalid choice: 'forever'" in usage_error(ipam_cli("gc", "history", "--reason", "forever"))
