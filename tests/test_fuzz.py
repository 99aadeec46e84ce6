"""Fuzzing: thousands of malformed requests over every RPC of a real `ipam serve --auth` process.

A seeded run in the normal suite (IPAM_FUZZ_COUNT requests, default 3000, seed IPAM_FUZZ_SEED,
default 16). It fails on any INTERNAL or UNKNOWN answer and on any call slower than
IPAM_FUZZ_BOUND seconds (default 10), printing the request that did it. A long run:

    IPAM_FUZZ_COUNT=50000 IPAM_FUZZ_SEED=7 pytest tests/test_fuzz.py -q -s

The server's resident memory is printed before and after (with -s) and must not grow by more
than RSS_GROWTH_LIMIT.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import grpc
import pytest
from fuzz_requests import Fuzzer, Request, Rpc, all_rpcs
from processes import ServerProcess, ServerProcessFactory

from ipam_client import AddressSpec, IpamClient, IpamClientError

COUNT = int(os.environ.get("IPAM_FUZZ_COUNT", "3000"))
SEED = int(os.environ.get("IPAM_FUZZ_SEED", "16"))
BOUND = float(os.environ.get("IPAM_FUZZ_BOUND", "10"))
# How long a watch stream is followed: a quiet stream is fine, so it just ends there.
WATCH_SECONDS = 0.3
SETUP_EVERY = 250  # calls between two runs of the setup (fuzzed calls delete things)
RSS_GROWTH_LIMIT = 256 * 1024 * 1024
FAILING = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}


def setup(ipam: IpamClient) -> list[str]:
    """Spaces, pools, hosts, leases, endpoints and a Docker network to get calls deep; what exists
    already is kept. The Docker pool id, for the fuzzer's good values."""
    steps: list[Callable[[], object]] = [
        lambda: ipam.create_address_space("s1"),
        lambda: ipam.create_pool("p4", "10.80.0.0/16", 24, host_selector="zone=a"),
        lambda: ipam.create_pool("p6", "fd80::/48", 64),
        lambda: ipam.create_pool("dv", "10.90.0.0/16", 24),
        lambda: ipam.register_host("h1", {"zone": "a"}),
        lambda: ipam.register_host("h2", {"zone": "b"}),
        lambda: ipam.undrain_host("h1"),  # fuzzed DrainHost calls drain it
        lambda: ipam.create_token("t-admin", "admin"),
    ]
    for owner in ("c0", "c1"):
        steps.append(partial(ipam.allocate, "h1", owner, "eth0", [AddressSpec(pool="p4")]))
        steps.append(partial(ipam.register_endpoint, "h1", owner, "eth0", labels={"zone": "a"}))
    for step in steps:
        # Exists already, or the fuzzer left something in the way: calls still get deep.
        with contextlib.suppress(IpamClientError):
            step()
    try:
        return [ipam.request_network_pool("h1", subnet="10.90.1.0/24").pool_id]
    except IpamClientError:
        return []


def rss_bytes(process: ServerProcess) -> int:
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def send(channel: grpc.Channel, rpc: Rpc, request: Request, metadata: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
    """The status the server answers `request` with (OK for a watch that was merely quiet)."""
    try:
        if rpc.server_streaming:
            watch = channel.unary_stream(rpc.path, request_serializer=None, response_deserializer=None)
            stream = watch(request.data, timeout=WATCH_SECONDS, metadata=metadata)
            for _ in stream:
                pass
        else:
            call = channel.unary_unary(rpc.path, request_serializer=None, response_deserializer=None)
            call(request.data, timeout=BOUND, metadata=metadata)
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        if rpc.server_streaming and code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return grpc.StatusCode.OK
        return code
    return grpc.StatusCode.OK


def test_every_rpc_answers_malformed_requests_properly(
    server_process_factory: ServerProcessFactory, new_token: Callable[..., str]
) -> None:
    server = server_process_factory("--auth", "--gc-interval", "0")
    admin = new_token("admin")
    tokens = [admin] * 6 + [new_token("agent", "h1"), new_token("reader"), "ipam_garbage", ""]
    rpcs = all_rpcs()
    assert len(rpcs) >= 38, [rpc.path for rpc in rpcs]
    with IpamClient(server.address, admin, retries=0) as ipam, grpc.insecure_channel(server.address) as channel:
        fuzzer = Fuzzer(SEED, setup(ipam))
        rss_before = rss_bytes(server)
        failures: list[str] = []
        seen: dict[str, set[grpc.StatusCode]] = {rpc.path: set() for rpc in rpcs}
        started = time.monotonic()
        for number, (rpc, request) in enumerate(fuzzer.requests(rpcs, COUNT)):
            if number % SETUP_EVERY == SETUP_EVERY - 1:
                setup(ipam)
            token = fuzzer.pick(tokens)
            metadata = (("authorization", f"Bearer {token}"),) if token else ()
            began = time.monotonic()
            code = send(channel, rpc, request, metadata)
            seen[rpc.path].add(code)
            if code in FAILING or code == grpc.StatusCode.DEADLINE_EXCEEDED:
                seconds = time.monotonic() - began
                failures.append(f"#{number} {rpc.path} -> {code.name} after {seconds:.1f} s: {request.show()}")
        elapsed = time.monotonic() - started
        rss_after = rss_bytes(server)
    mib = 1024 * 1024
    deep = sorted(path for path, codes in seen.items() if grpc.StatusCode.OK in codes)
    print(
        f"\n{COUNT} requests (seed {SEED}) in {elapsed:.1f} s; {len(deep)} of {len(rpcs)} RPCs answered OK at "
        f"least once; server RSS {rss_before / mib:.0f} MiB before, {rss_after / mib:.0f} MiB after"
    )
    for path, codes in sorted(seen.items()):
        print(f"  {path}: {', '.join(sorted(code.name for code in codes))}")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures; server log: {server.log_path})"
    assert all(codes for codes in seen.values()), [path for path, codes in seen.items() if not codes]
    assert len(deep) >= len(rpcs) // 3, f"too few RPCs ever succeeded: {deep}"
    assert rss_after - rss_before < RSS_GROWTH_LIMIT


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fuzzer_is_seeded(seed: int) -> None:
    """The same seed sends the same requests, so a failure printed once can be sent again."""
    rpcs = all_rpcs()
    first = [(rpc.path, request.data) for rpc, request in Fuzzer(seed, []).requests(rpcs, 50)]
    again = [(rpc.path, request.data) for rpc, request in Fuzzer(seed, []).requests(rpcs, 50)]
    assert first == again
