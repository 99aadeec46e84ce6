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

from registry_checks import head_revision

from ipam_client import AddressSpec, IpamClient

STREAMS_SCRIPT = Path(__file__).with_name("watch_streams.py")
WAIT_SECONDS = 180.0  # a bound against hanging, not a measurement


@contextmanager
def streams(address: str, since: int, until: int, count: int) -> Iterator[Callable[[], list[list[int]]]]:
    """`count` open streams from `since` (the block makes the changes); yields a function that
    waits for each to reach `until` and returns the revisions each got."""
    process = subprocess.Popen(
        [sys.executable, str(STREAMS_SCRIPT), address, str(since), str(until), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "open", "the streams did not open"

        def result() -> list[list[int]]:
            out, _ = process.communicate(timeout=WAIT_SECONDS)
            assert process.returncode == 0, out
            revisions: list[list[int]] = json.loads(out)
            return revisions

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
        seen = result()
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
        seen = result()
    assert seen == [list(range(1, until + 1))] * 200
