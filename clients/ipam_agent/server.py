"""The agent's unix socket: one thread per connection, one request and one response each.

The threads wait in accept() themselves (the kernel hands each connection straight to one of
them) instead of a select loop accepting and starting a thread per connection: on a busy host
that handoff was a measurable part of every CNI call. A few threads wait at all times; when the
last waiting one takes a connection it starts another, so any number of calls run at once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import socketserver
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from ipam_agent.handlers import CODE_DECODE
from ipam_cni import forward, plugin, protocol

log = logging.getLogger("ipam_agent.server")

SOCKET_MODE = 0o660  # root (the runtime) and the socket's group only
READ_TIMEOUT_SECONDS = 10.0
# Threads kept waiting in accept(); one that finishes a call ends when this many already wait.
SPARE_THREADS = 2
# After accept() fails (e.g. EMFILE), the pause before a thread tries again, instead of spinning.
ACCEPT_RETRY_SECONDS = 0.05

Handle = Callable[[dict[str, Any]], dict[str, Any]]


class AgentSocketError(Exception):
    """The socket cannot be served (directory not writable, another agent on it, ...)."""


class _Connection(socketserver.BaseRequestHandler):
    server: AgentSocketServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(READ_TIMEOUT_SECONDS)
        try:
            with sock.makefile("rb") as stream:
                first = stream.readline(protocol.MAX_MESSAGE)
                if first == forward.MAGIC:
                    reply = self._forwarded(stream)
                else:
                    reply = json.dumps(self._request(first)).encode() + b"\n"
        except OSError as err:
            log.debug("reading a request failed: %s", err)
            return
        with contextlib.suppress(OSError):  # the plugin went away: nothing to tell it
            sock.sendall(reply)

    def _request(self, line: bytes) -> dict[str, Any]:
        """A request of ipam_cni.protocol (one JSON line)."""
        try:
            message = protocol.decode(line)
        except (ValueError, UnicodeDecodeError) as err:
            return protocol.failure(CODE_DECODE, f"cannot decode the request: {err}")
        return self.server.handle_message(message)

    def _forwarded(self, stream: BinaryIO) -> bytes:
        """A whole invocation forwarded by the installed plugin: run the plugin here."""
        try:
            invocation = forward.read_invocation(stream)
        except ValueError as err:
            log.warning("dropping a malformed forwarded invocation: %s", err)
            return forward.FALLBACK  # the plugin runs it itself and reports any error
        in_agent = plugin.InAgent(invocation.socket_path, self.server.handle_message)
        try:
            outcome = plugin.run(invocation.env, invocation.stdin, in_agent)
        except plugin.NotForThisAgent:
            return forward.FALLBACK
        except Exception as exc:
            log.exception("forwarded %s failed", invocation.env.get("CNI_COMMAND"))
            outcome = plugin.internal_error(exc)
        return forward.answer(outcome.status, plugin.render(outcome))


class UnixSocketServer(socketserver.UnixStreamServer):
    """A threaded server on a unix socket that only root and the socket's group may use; a stale
    socket file is replaced, a live one (another agent) is an error. `serve_forever` serves with
    threads waiting in accept() (see the module's docstring) until `shutdown`."""

    # socketserver's default backlog of 5 makes concurrent clients fail to connect (EAGAIN).
    request_queue_size = socket.SOMAXCONN

    def __init__(self, path: str, handler: type[socketserver.BaseRequestHandler]) -> None:
        self.path = path
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._waiting = 0
        _prepare(path)
        old_umask = os.umask(0o177)  # no window in which others may connect before the chmod
        try:
            super().__init__(path, handler)
        except OSError as err:
            raise AgentSocketError(f"cannot listen on {path}: {err.strerror or err}") from None
        finally:
            os.umask(old_umask)
        os.chmod(path, SOCKET_MODE)
        self._inode = os.stat(path).st_ino

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until `shutdown` (`poll_interval` is unused: no loop polls here)."""
        try:
            for _ in range(SPARE_THREADS):
                self._start_thread()
            self._stopping.wait()
            # Wakes every thread blocked in accept() (EINVAL); connections in progress go on.
            with contextlib.suppress(OSError):
                self.socket.shutdown(socket.SHUT_RDWR)
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop accepting connections and wait for `serve_forever` to return."""
        self._stopping.set()
        self._stopped.wait()

    def _start_thread(self) -> None:
        threading.Thread(target=self._accept_loop, name=f"{self.path} connection", daemon=True).start()

    def _accept_loop(self) -> None:
        """Accept a connection, serve it, wait for the next one; end when enough others wait."""
        while not self._stopping.is_set():
            with self._lock:
                self._waiting += 1
            try:
                request, client_address = self.get_request()
            except OSError as err:
                with self._lock:
                    self._waiting -= 1
                if not self._stopping.is_set():
                    log.warning("accepting a connection on %s failed: %s", self.path, err)
                    self._stopping.wait(ACCEPT_RETRY_SECONDS)
                continue
            with self._lock:
                self._waiting -= 1
                last = self._waiting == 0
            if last:
                try:
                    self._start_thread()
                except RuntimeError as err:  # no more threads: this one still serves its connection
                    log.warning("cannot start another thread for %s: %s", self.path, err)
            self._serve(request, client_address)
            with self._lock:
                if self._waiting >= SPARE_THREADS:
                    return

    def _serve(self, request: socket.socket, client_address: Any) -> None:
        """What socketserver's ThreadingMixIn does in the thread of a connection."""
        try:
            if self.verify_request(request, client_address):
                self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def remove(self) -> None:
        """Close and remove the socket file, unless another agent has replaced it meanwhile."""
        self.server_close()
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self._inode:
                os.unlink(self.path)


class AgentSocketServer(UnixSocketServer):
    def __init__(self, path: str, handle: Handle) -> None:
        self.handle_message = handle
        super().__init__(path, _Connection)


def _prepare(path: str) -> None:
    """Create the parent directory; remove a stale socket file left by an agent that died."""
    target = Path(path)
    try:
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    except FileExistsError:
        raise AgentSocketError(f"cannot create {target.parent}: a file of that name exists") from None
    except OSError as err:
        raise AgentSocketError(f"cannot create {target.parent}: {err.strerror or err}") from None
    try:
        mode = target.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise AgentSocketError(f"cannot use {path}: {err.strerror or err}") from None
    if not stat.S_ISSOCK(mode):
        raise AgentSocketError(f"{path} exists and is not a socket; remove it or choose another path")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except OSError as err:
            if err.errno not in (errno.ECONNREFUSED, errno.ENOENT):
                raise AgentSocketError(f"cannot use {path}: {err.strerror or err}") from None
        else:
            raise AgentSocketError(f"another agent is already serving {path}")
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    except OSError as err:
        raise AgentSocketError(f"cannot remove stale socket {path}: {err.strerror or err}") from None
    log.info("removed stale socket %s", path)
