"""Forwarding a whole CNI invocation to the host agent, which runs the plugin in its own process.

Interpreter start-up dominates a Python plugin's run time, and importing `json` alone costs more
than the agent's answer. So the installed `ipam-cni` (:mod:`ipam_cni.launcher`) parses nothing:
it sends its CNI_* environment and stdin as they are, and the agent answers with the exact bytes
to print and the exit status. This module uses built-in modules only (`_socket`, not `socket`).

Request (plugin -> agent), on a connection of its own:
    b"CNI-EXEC 1\n" + socket path + b"\n" + b"<env bytes> <stdin bytes>\n" + env + stdin
where env is the NUL-separated `NAME=value` pairs of the CNI_* variables and the socket path is
the one the plugin read from the config (the agent checks that its own parse agrees).
Response: b"<exit status>\n" + stdout bytes, or b"fallback\n" when the plugin must run the
invocation itself (the config names a server, or another agent socket than the one used).
"""

# No `from __future__ import annotations` (an import of its own): annotations naming
# typing-only names are strings.
import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import BinaryIO

MAGIC = b"CNI-EXEC 1\n"
FALLBACK = b"fallback\n"
ENV_PREFIX = "CNI_"
MAX_HEADER = 4096
MAX_BODY = 16 << 20


class Invocation:
    """A forwarded invocation as the agent reads it."""

    __slots__ = ("env", "socket_path", "stdin")

    def __init__(self, socket_path: str, env: dict[str, str], stdin: bytes) -> None:
        self.socket_path = socket_path
        self.env = env
        self.stdin = stdin


# -- plugin side ----------------------------------------------------------------------------


def agent_socket(stdin: bytes, default: str) -> str | None:
    """The agent socket the config names (`ipam.agent_socket`, else `default`), read without a
    JSON parser; None when the config is not the plain case (a `server` key, the key twice, an
    escaped or odd value): the plugin then parses it properly itself."""
    if b'"server"' in stdin:
        return None
    key = b'"agent_socket"'
    at = stdin.find(key)
    if at < 0:
        return default
    if stdin.find(key, at + 1) >= 0:
        return None
    rest = stdin[at + len(key) :].lstrip()
    if not rest.startswith(b":"):
        return None
    rest = rest[1:].lstrip()
    end = rest.find(b'"', 1)
    value = rest[1:end]
    if not rest.startswith(b'"') or end < 0 or not value or b"\\" in value or b"\n" in value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


def frame(socket_path: str, env: "Mapping[bytes, bytes]", stdin: bytes) -> bytes:
    """The request for an invocation; `env` is the environment as bytes (`posix.environ`)."""
    prefix = ENV_PREFIX.encode()
    pairs = b"\0".join(name + b"=" + value for name, value in env.items() if name.startswith(prefix))
    return b"".join((MAGIC, socket_path.encode(), b"\n", b"%d %d\n" % (len(pairs), len(stdin)), pairs, stdin))


def exchange(socket_path: str, request: bytes, timeout: float) -> tuple[int, bytes] | None:
    """Send a framed invocation; (exit status, stdout bytes), or None for "run it yourself".
    Raises OSError when the agent cannot be reached or hangs up without an answer."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    answer = b"".join(chunks)
    head, newline, output = answer.partition(b"\n")
    if not newline:
        raise OSError("the agent closed the connection without an answer")
    if answer.startswith(FALLBACK):
        return None
    try:
        return int(head), output
    except ValueError:
        raise OSError(f"unexpected answer from the agent: {head[:80]!r}") from None


# -- agent side -----------------------------------------------------------------------------


def read_invocation(stream: "BinaryIO") -> Invocation:
    """The invocation after MAGIC, read from a buffered stream. Raises ValueError when malformed
    or cut short."""
    path, sizes = stream.readline(MAX_HEADER), stream.readline(MAX_HEADER)
    env_size, _, stdin_size = sizes.strip().partition(b" ")
    if not path.endswith(b"\n") or not env_size.isdigit() or not stdin_size.isdigit():
        raise ValueError("malformed forwarded invocation header")
    n_env, n_stdin = int(env_size), int(stdin_size)
    if n_env + n_stdin > MAX_BODY:
        raise ValueError(f"forwarded invocation too large ({n_env + n_stdin} bytes)")
    body = stream.read(n_env + n_stdin)
    if len(body) != n_env + n_stdin:
        raise ValueError("forwarded invocation cut short")
    env: dict[str, str] = {}
    for pair in body[:n_env].split(b"\0") if n_env else []:
        name, equals, value = pair.decode().partition("=")
        if not equals or not name.startswith(ENV_PREFIX):
            raise ValueError(f"malformed environment entry in forwarded invocation: {name[:40]!r}")
        env[name] = value
    return Invocation(path[:-1].decode(), env, body[n_env:])


def answer(status: int, output: bytes) -> bytes:
    return b"%d\n" % status + output
