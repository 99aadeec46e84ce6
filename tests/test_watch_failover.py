"""A watch on a target naming two `ipam serve` replicas keeps going when the replica it streams
from is killed (kill -9) or refuses the stream (RESOURCE_EXHAUSTED, `--max-watchers`): it resumes
on the next replica from the last revision it got, so every revision arrives once, in order."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from processes import ServerProcessFactory
from registry_checks import Watch, assert_consecutive, head_revision

from ipam.cli import main
from ipam_client import AddressSpec, IpamClient, ResourceExhausted


@contextmanager
def churn(client: IpamClient) -> Iterator[None]:
    """Allocate and release endpoints through `client` until the block ends."""
    client.create_pool("f4", "10.91.0.0/16", 24)
    client.register_host("h0")
    stop = threading.Event()

    def run() -> None:
        n = 0
        while not stop.is_set():
            client.allocate("h0", f"c{n}", "eth0", [AddressSpec(pool="f4")])
            client.release_owner(f"c{n}", "eth0")
            n += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_watch_resumes_on_the_next_replica_when_its_replica_is_killed(
    server_process_factory: ServerProcessFactory,
) -> None:
    a = server_process_factory()
    b = server_process_factory()
    with IpamClient(b.address) as writer, IpamClient(f"ipv4:{a.address},{b.address}") as watcher:
        start = head_revision(writer)
        watch = Watch(watcher, start)  # on A: the first replica of the target
        with churn(writer):
            before = watch.take(30)
            a.kill()  # SIGKILL, while changes keep coming through B
            after = watch.take(60)
    assert_consecutive(before + after, start)


def test_a_replica_refusing_the_stream_sends_the_watch_to_the_next(
    server_process_factory: ServerProcessFactory,
) -> None:
    full = server_process_factory("--max-watchers", "0")
    b = server_process_factory()
    with IpamClient(b.address) as writer, IpamClient(f"ipv4:{full.address},{b.address}") as watcher:
        start = head_revision(writer)
        watch = Watch(watcher, start)  # refused by the full replica first, then on B
        with churn(writer):
            events = watch.take(30)
    assert_consecutive(events, start)
    assert "RESOURCE_EXHAUSTED" in full.output()


def test_a_watch_every_replica_refuses_fails_with_the_servers_reason(
    server_process_factory: ServerProcessFactory,
) -> None:
    full = server_process_factory("--max-watchers", "0")
    with (
        IpamClient(full.address, retries=2) as watcher,
        pytest.raises(ResourceExhausted, match="already serves 0 watch streams; try another"),
    ):
        next(watcher.watch_endpoints(0))


def test_ipam_endpoint_watch_moves_past_a_refusing_replica(server_process_factory: ServerProcessFactory) -> None:
    full = server_process_factory("--max-watchers", "0")
    b = server_process_factory()
    command = [sys.executable, "-m", "ipam", "endpoint", "watch", "--server", f"ipv4:{full.address},{b.address}"]
    with IpamClient(b.address) as writer:
        start = head_revision(writer)
        with churn(writer):
            watch = subprocess.run(
                [*command, "--since", str(start), "--limit", "5", "-o", "json"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
    assert watch.returncode == 0, watch.stderr
    assert [json.loads(line)["revision"] for line in watch.stdout.splitlines()] == [
        str(r) for r in range(start + 1, start + 6)
    ]


@pytest.mark.parametrize("value", ["-1", "many", "2.5"])
def test_max_watchers_must_be_a_whole_number(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRPC_VERBOSITY", raising=False)  # main() sets it for itself
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--max-watchers", value])
    assert exited.value.code == 2
    assert f"--max-watchers: expected a whole number of streams, 0 or more, got '{value}'" in capsys.readouterr().err
