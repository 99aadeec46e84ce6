"""Thousands of watch streams on one server: each gets every event exactly once, in order.

The streams are coroutines on the server (no thread each), fed the same rendered bytes; a
grpc.aio client process (tests/watch_streams.py) reads them back and parses every message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from registry_checks import head_revision

from ipam_client import AddressSpec, IpamClient, registry_pb

STREAMS_SCRIPT = Path(__file__).with_name("watch_streams.py")
WAIT_SECONDS = 180.0  # a bound against hanging, not a measurement


@contextmanager
def streams(
    address: str, since: int, until: int, count: int, selector: str = ""
) -> Iterator[Callable[[], list[list[Any]]]]:
    """`count` open streams from `since` (the block makes the changes); yields a function that
    waits for each to reach revision `until` and returns what each got: [revision, type, owner]."""
    process = subprocess.Popen(
        [sys.executable, str(STREAMS_SCRIPT), address, str(since), str(until), str(count), selector],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "open", "the streams did not open"

        def result() -> list[list[Any]]:
            out, _ = process.communicate(timeout=WAIT_SECONDS)
            assert process.returncode == 0, out
            events: list[list[Any]] = json.loads(out)
            return events

        yield result
    finally:
        process.kill()
        process.wait()


def test_every_stream_of_thousands_gets_every_event_once_in_order(client: IpamClient, server: str) -> None:
    client.create_pool("p", "10.70.0.0/16", 24)
    client.register_host("h1")
    start = head_revision(client)
    changes = 20  # each an "added" and a "removed"
    with streams(server, start, start + 2 * changes, 1500) as result:
        for n in range(changes):
            client.allocate("h1", f"c{n}", "eth0", [AddressSpec(pool="p")])
            client.release_owner(f"c{n}", "eth0")
        seen = [[revision for revision, _, _ in events] for events in result()]
    assert len(seen) == 1500  # none refused
    expected = list(range(start + 1, start + 2 * changes + 1))
    wrong = [revisions for revisions in seen if revisions != expected]
    assert not wrong, f"{len(wrong)} streams got other revisions, e.g. {wrong[0][:10]}"


def test_streams_behind_the_window_read_the_log_then_join_the_live_events(client: IpamClient, server: str) -> None:
    """Streams from revision 0 start in the database and continue with the shared live bytes."""
    client.create_pool("p", "10.71.0.0/16", 24)
    client.register_host("h1")
    for n in range(5):
        client.allocate("h1", f"old{n}", "eth0", [AddressSpec(pool="p")])
    until = head_revision(client) + 20
    with streams(server, 0, until, 200) as result:
        for n in range(20):
            client.allocate("h1", f"new{n}", "eth0", [AddressSpec(pool="p")])
        seen = [[revision for revision, _, _ in events] for events in result()]
    assert seen == [list(range(1, until + 1))] * 200


def test_filtered_streams_each_see_the_selectors_changes_once(client: IpamClient, server: str) -> None:
    """500 streams with a label selector, endpoints entering and leaving it, and changes of other
    endpoints in between (which the hub moves the quiet streams past without waking them): every
    stream gets the same added / updated / removed sequence, and nothing about endpoints it never
    matched."""
    client.register_host("h1")
    for n in range(10):
        client.register_endpoint("h1", f"e{n}", "eth0", labels={"app": "web" if n % 2 else "db"})
    start = head_revision(client)
    with streams(server, start, start + 61, 500, "app=web") as result:
        for round_ in range(3):  # 30 label changes: e0, e2, ... enter; e1, e3, ... leave; then back
            for n in range(10):
                web = (n + round_) % 2 == 0
                client.update_endpoint_labels(f"e{n}", "eth0", {"app": "web" if web else "db", "round": str(round_)})
                client.register_endpoint("h1", f"other{round_}-{n}", "eth0", labels={"app": "db"})
        client.register_endpoint("h1", "last", "eth0", labels={"app": "web"})  # revision start + 61
        seen = result()
    added, updated, removed = (
        registry_pb.ENDPOINT_EVENT_TYPE_ADDED,
        registry_pb.ENDPOINT_EVENT_TYPE_UPDATED,
        registry_pb.ENDPOINT_EVENT_TYPE_REMOVED,
    )
    expected: list[list[Any]] = []
    matching = {f"e{n}" for n in range(10) if n % 2}
    revision = start
    for round_ in range(3):
        for n in range(10):
            revision += 2  # the label change, then another endpoint's registration
            owner, web = f"e{n}", (n + round_) % 2 == 0
            if web:
                expected.append([revision - 1, updated if owner in matching else added, owner])
                matching.add(owner)
            elif owner in matching:
                expected.append([revision - 1, removed, owner])
                matching.discard(owner)
    expected.append([start + 61, added, "last"])
    assert seen == [expected] * 500
