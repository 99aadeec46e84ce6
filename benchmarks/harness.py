"""Shared benchmark plumbing: a database (given or embedded) and an `ipam serve` subprocess."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def percentile(ordered: list[float], q: float) -> float:
    """The `q` quantile (0 to 1) of latencies in seconds, sorted ascending, in milliseconds; NaN for none."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from ipam.embedded import embedded_database

    with tempfile.TemporaryDirectory(prefix="ipam-bench-") as tmp:
        os.chmod(tmp, 0o755)
        with embedded_database(Path(tmp) / "pgdata", ephemeral=True) as embedded_url:
            yield embedded_url


# The server as the figures in docs/benchmarks.md were measured: without the per-RPC access log.
QUIET_SERVER = ("--log-level", "warning")


@contextlib.contextmanager
def ipam_server(
    url: str, port: int, *extra_args: str, quiet: bool = False, tls: grpc.ChannelCredentials | None = None
) -> Iterator[str]:
    """`ipam serve` with `extra_args`; `quiet` sends its output (e.g. an access log) to /dev/null;
    `tls`: how to reach a server started with TLS."""
    with ipam_server_process(url, port, *extra_args, quiet=quiet, tls=tls) as (address, _):
        yield address


@contextlib.contextmanager
def ipam_server_process(
    url: str, port: int, *extra_args: str, quiet: bool = False, tls: grpc.ChannelCredentials | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As `ipam_server`, also yielding the server's process (e.g. to read /proc/<pid>/status)."""
    address = f"127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "ipam", "serve", "--database-url", url, "--listen", address, *extra_args],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    try:
        wait_serving(address, process, tls=tls)
        yield address, process
    finally:
        process.terminate()
        process.wait(30)


def wait_serving(
    address: str, process: subprocess.Popen[bytes], timeout: float = 60, tls: grpc.ChannelCredentials | None = None
) -> None:
    deadline = time.monotonic() + timeout
    with grpc.secure_channel(address, tls) if tls else grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"ipam serve exited with {process.returncode}")
            with contextlib.suppress(grpc.RpcError):
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            time.sleep(0.2)
    raise RuntimeError(f"ipam serve did not answer on {address}")
