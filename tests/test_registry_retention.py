"""`ipam serve --event-retention`: the server prunes old events, ended holdings and deleted
endpoints by itself, and a watch resumed from before the pruning is told to list again."""

from __future__ import annotations

import argparse
import time
from datetime import UTC

import pytest
from api_checks import count, fails
from processes import ServerProcessFactory
from registry_checks import EVENT_WAIT_SECONDS, Watch
from sqlalchemy import Engine

from ipam.cli.durations import retention as duration
from ipam_client import AddressSpec, IpamClient, OutOfRange


def test_the_server_prunes_past_its_retention(server_process_factory: ServerProcessFactory, engine: Engine) -> None:
    replica = server_process_factory("--event-retention", "2s")
    with IpamClient(replica.address, retries=0) as ipam:
        ipam.create_pool("p4", "10.0.0.0/24", 26)
        ipam.register_host("h1")
        ipam.allocate("h1", "gone", "eth0", [AddressSpec(pool="p4")])
        ipam.allocate("h1", "stays", "eth0", [AddressSpec(pool="p4")])
        ipam.release_owner("gone", "eth0")
        assert len(Watch(ipam, 0).take(3)) == 3  # numbered and kept, for now

        deadline = time.monotonic() + EVENT_WAIT_SECONDS
        while count(engine, "SELECT count(*) FROM event") > 0:
            if time.monotonic() > deadline:
                pytest.fail("the server did not prune events older than its 2 s retention")
            time.sleep(0.2)
        with fails(OutOfRange, "changes after revision 0 were pruned", "list the endpoints again"):
            Watch(ipam, 0).take(1)
        assert [e.owner_id for e in ipam.iter_endpoints()] == ["stays"]
        assert ipam.lookup_address("10.0.0.3").endpoint.owner_id == "stays"
        with fails(OutOfRange, "is before the kept history (the server keeps 2 s"):
            ipam.lookup_address("10.0.0.3", at=ipam.get_endpoint("stays", "eth0").create_time.ToDatetime(tzinfo=UTC))
    assert count(engine, "SELECT count(*) FROM address_history WHERE held_until IS NOT NULL") == 0
    assert count(engine, "SELECT count(*) FROM endpoint WHERE state = 'deleted'") == 0


@pytest.mark.parametrize(
    ("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), ("600", 600)]
)
def test_retention_durations(text: str, seconds: int) -> None:
    assert duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0s", "shorter than 1s"),
        ("", "is not a duration"),
        ("d", "is not a duration"),
        ("-5m", "is negative"),
        ("1.5h", "is not a duration"),
        ("3w", "is not a duration"),
        ("3651d", "longer than 3650 days"),
    ],
)
def test_bad_retention_durations_are_refused_with_an_example(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        duration(text)
