"""`ipam whois`, `ipam endpoint list|show|watch` as a subprocess against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cli_checks import Cli, fields, ok, one_error_line, rows, usage_error
from registry_checks import EVENT_WAIT_SECONDS, head_revision

from ipam_client import AddressSpec, IpamClient


@pytest.fixture
def setup(client: IpamClient) -> None:
    client.create_pool("tiny", "10.9.0.0/24", 30, cooldown_seconds=0)
    client.create_pool("p4", "10.0.0.0/24", 26)
    client.register_host("h1")


@pytest.mark.usefixtures("setup")
def test_whois_now_and_at_a_past_time_for_an_address_reused_three_times(ipam_cli: Cli, client: IpamClient) -> None:
    starts = []
    for owner in ("first", "second", "third"):
        client.allocate("h1", owner, "eth0", [AddressSpec(pool="tiny")], {"K8S_POD_NAME": owner})
        starts.append(client.lookup_address("10.9.0.2").held_from.ToJsonString())
        if owner != "third":
            client.release_owner(owner, "eth0")
    now = fields(ok(ipam_cli("whois", "10.9.0.2")))
    assert (now["owner"], now["host"], now["held until"]) == ("third/eth0", "h1", "(still held)")
    for owner, start in zip(("first", "second", "third"), starts, strict=True):
        answer = json.loads(ok(ipam_cli("whois", "10.9.0.2", "--at", start, "-o", "json")))
        assert answer["endpoint"]["owner_id"] == owner
        assert answer["endpoint"]["labels"] == {"io.kubernetes.pod.name": owner}
        assert answer["held_from"] == start
    past = fields(ok(ipam_cli("whois", "10.9.0.2", "--at", starts[0])))
    assert past["owner"] == "first/eth0"
    assert past["state"] == "deleted"
    assert past["held until"] != "(still held)"


@pytest.mark.usefixtures("setup")
def test_whois_bad_input(ipam_cli: Cli) -> None:
    assert "address" in one_error_line(ipam_cli("whois", "10.9.0.999"), 1)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert "is in the future" in one_error_line(ipam_cli("whois", "10.9.0.2", "--at", future), 1)
    assert "no endpoint held 10.9.0.2 now" in one_error_line(ipam_cli("whois", "10.9.0.2"), 1)
    assert "expected a time such as 2026-11-28T14:02:00Z, got 'yesterday'" in usage_error(
        ipam_cli("whois", "10.9.0.2", "--at", "yesterday")
    )


@pytest.mark.usefixtures("setup")
def test_endpoint_list_with_selector_and_show(ipam_cli: Cli, client: IpamClient) -> None:
    client.register_endpoint("h1", "web", "eth0", labels={"app": "web", "tier": "front"})
    client.register_endpoint("h1", "db", "eth0", labels={"app": "web", "tier": "db"})
    client.allocate("h1", "web", "eth0", [AddressSpec(pool="p4")])
    table = rows(ok(ipam_cli("endpoint", "list", "--selector", "app=web,tier!=db")))
    assert table[0] == ["ID", "OWNER", "HOST", "NETWORK", "ADDRESSES", "STATE", "LABELS"]
    assert [r[1] for r in table[1:]] == ["web/eth0"]
    assert table[1][4] == "10.0.0.2"
    listed = json.loads(ok(ipam_cli("endpoint", "list", "-o", "json")))
    assert [e["owner_id"] for e in listed] == ["web", "db"]
    shown = fields(ok(ipam_cli("endpoint", "show", "db")))
    assert (shown["owner"], shown["labels"], shown["state"]) == ("db/eth0", "app=web,tier=db", "active")
    assert "bad label key" in one_error_line(ipam_cli("endpoint", "list", "--selector", "a b=c"), 1)
    assert "no live endpoint nope/eth0" in one_error_line(ipam_cli("endpoint", "show", "nope"), 1)
    assert "give either OWNER or --id" in usage_error(ipam_cli("endpoint", "show"))


@pytest.mark.usefixtures("setup")
def test_endpoint_watch_prints_changes_as_json_lines_from_a_revision(server: str, client: IpamClient) -> None:
    start = head_revision(client)
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p4")])
    client.release_owner("c1", "eth0")
    environment = {**os.environ, "IPAM_SERVER": server}
    command = [sys.executable, "-m", "ipam", "endpoint", "watch", "--since", str(start), "-o", "json"]
    with subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as watch:
        try:
            assert watch.stdout is not None
            lines = [json.loads(watch.stdout.readline()) for _ in range(2)]
        finally:
            watch.terminate()
            watch.wait(EVENT_WAIT_SECONDS)
    assert [(e["revision"], e["type"]) for e in lines] == [
        (str(start + 1), "ENDPOINT_EVENT_TYPE_ADDED"),
        (str(start + 2), "ENDPOINT_EVENT_TYPE_REMOVED"),
    ]
    assert lines[0]["endpoint"]["addresses"] == [{"address": "10.0.0.2", "pool": "p4", "space": "default"}]


@pytest.mark.usefixtures("setup")
def test_endpoint_watch_with_a_limit_exits_after_that_many_changes(client: IpamClient, ipam_cli: Cli) -> None:
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p4")])
    client.release_owner("c1", "eth0")
    client.allocate("h1", "c2", "eth0", [AddressSpec(pool="p4")])
    lines = ok(ipam_cli("endpoint", "watch", "--since", "0", "--limit", "2")).splitlines()
    assert [line.split()[2:4] for line in lines] == [["added", "c1/eth0"], ["removed", "c1/eth0"]]
    assert "expected a positive whole number" in usage_error(ipam_cli("endpoint", "watch", "--limit", "0"))


@pytest.mark.usefixtures("setup")
def test_endpoint_watch_from_a_future_revision_fails_with_the_reason(ipam_cli: Cli) -> None:
    assert "since_revision: 99 is ahead of the newest revision, 0" in one_error_line(
        ipam_cli("endpoint", "watch", "--since", "99"), 1
    )
