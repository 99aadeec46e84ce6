"""The `ipam-cni` executable as installed into a CNI bin dir by `ipam-cni install DIR`.

That file starts the interpreter with `-I -S` (no site, no environment: the fastest start) and
calls `main()`. The common case — ADD, DEL, CHECK, GC or STATUS with the host agent on the socket
the config names — is forwarded unparsed to the agent (:mod:`ipam_cni.forward`), which runs the
plugin in its long-lived process; only built-in modules are imported here. Anything else
(VERSION, a `server` config, an agent that cannot be reached or asks for it) runs the whole
plugin (:mod:`ipam_cni.plugin`) in this process, which also writes every error.

The native launcher (launcher.c, compiled by `ipam-cni install`) takes the same fast path and
executes this file for everything else, with the original stdin replayed and `--no-forward`:
the agent has been tried already, so the plugin runs at once.
"""

# Built-in modules only: `posix`, not `os` (which costs over a millisecond to import when site,
# skipped by -S, has not imported it already); no `from __future__` either.
import posix
import sys

from ipam_cni import forward

DEFAULT_SOCKET = "/run/ipam/agent.sock"  # the same as ipam_cni.protocol's (a test keeps them equal)
AGENT_TIMEOUT = 60.0  # as ipam_cni.plugin's: the agent may wait on the server for an allocation
# Commands worth forwarding; VERSION and anything unknown run in the plugin itself.
FORWARDED = (b"ADD", b"DEL", b"CHECK", b"GC", b"STATUS")
NO_FORWARD = "--no-forward"  # from the native launcher (launcher.c), which tried the agent itself


def main() -> None:
    stdin = _read_all(0)
    answer = _forwarded(stdin) if stdin is not None and sys.argv[1:] != [NO_FORWARD] else None
    if answer is None:
        import site

        site.main()  # -S skipped it: server mode (`ipam.server`) imports grpc from site-packages
        from ipam_cni import plugin

        plugin.main(stdin)
        return
    status, output = answer
    _write_all(1, output)
    sys.exit(status)


def _forwarded(stdin: bytes) -> tuple[int, bytes] | None:
    """The agent's answer, or None when this process must run the plugin itself."""
    if posix.environ.get(b"CNI_COMMAND") not in FORWARDED:
        return None
    socket_path = forward.agent_socket(stdin, DEFAULT_SOCKET)
    if socket_path is None:
        return None
    try:
        return forward.exchange(socket_path, forward.frame(socket_path, posix.environ, stdin), AGENT_TIMEOUT)
    except OSError:
        return None  # the plugin tries again and reports the failure with the right CNI code


def _read_all(fd: int) -> bytes | None:
    """All of stdin; None when it cannot be read (the plugin then reports the failure)."""
    chunks = []
    try:
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view) :]
