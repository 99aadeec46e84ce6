"""The agent's unix socket server (`ipam_agent.server.UnixSocketServer`) on a real socket: its
threads wait in accept() themselves, yet any number of connections are served at once, a failing
connection does not stop the others, and `shutdown` stops accepting."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cni_support import CNI_TIMEOUT, short_dir

from ipam_agent.server import SPARE_THREADS, UnixSocketServer

# More connections in progress at once than threads wait for them.
AT_ONCE = SPARE_THREADS * 4


class _Echo(socketserver.StreamRequestHandler):
    """Answers each line with the same line; `wait` waits at the server's barrier first, and
    `fail` raises."""

    server: _Server

    def handle(self) -> None:
        line = self.rfile.readline()
        if line == b"wait\n":
            self.server.barrier.wait(CNI_TIMEOUT)  # only returns once AT_ONCE handlers wait
        if line == b"fail\n":
            raise RuntimeError("a handler failed")
        self.wfile.write(line)


class _Server(UnixSocketServer):
    def __init__(self, path: str) -> None:
        self.barrier = threading.Barrier(AT_ONCE)
        super().__init__(path, _Echo)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # socketserver's default prints the traceback on stderr


@pytest.fixture
def serving() -> Iterator[_Server]:
    path = str(short_dir() / "s.sock")
    server = _Server(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.remove()
        Path(path).parent.rmdir()


def ask(path: str, line: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(CNI_TIMEOUT)
        sock.connect(path)
        sock.sendall(line)
        return sock.makefile("rb").readline()


def test_more_connections_than_waiting_threads_are_served_at_once(serving: _Server) -> None:
    with ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(lambda _: ask(serving.path, b"wait\n"), range(AT_ONCE)))
    assert answers == [b"wait\n"] * AT_ONCE
    # Served one after another afterwards, by the threads left waiting.
    assert [ask(serving.path, b"%d\n" % n) for n in range(AT_ONCE)] == [b"%d\n" % n for n in range(AT_ONCE)]


def test_a_failing_connection_is_closed_and_the_next_served(serving: _Server) -> None:
    assert ask(serving.path, b"fail\n") == b""
    assert ask(serving.path, b"next\n") == b"next\n"


def test_shutdown_stops_accepting() -> None:
    path = str(short_dir() / "s.sock")
    server = _Server(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    assert ask(path, b"up\n") == b"up\n"
    server.shutdown()
    thread.join()
    with pytest.raises(ConnectionRefusedError):
        ask(path, b"down\n")
    server.remove()
    assert not Path(path).exists()
    Path(path).parent.rmdir()
