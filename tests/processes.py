"""`ipam serve` as a child process, for tests that need real processes (two replicas, signals)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

STARTUP_SECONDS = 30.0
STOP_SECONDS = 20.0


@dataclass
class ServerProcess:
    """`ipam serve` running as a child process."""

    address: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = STOP_SECONDS) -> int:
        """SIGTERM (graceful: calls in flight finish), then SIGKILL if it hangs; the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


ServerProcessFactory = Callable[..., ServerProcess]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_serving(proc: ServerProcess) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with grpc.insecure_channel(proc.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if proc.process.poll() is not None:
                raise RuntimeError(f"ipam serve exited with {proc.process.returncode}:\n{proc.output()}")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"ipam serve did not answer within {STARTUP_SECONDS}s:\n{proc.output()}")
            time.sleep(0.1)
