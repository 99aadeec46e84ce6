"""The request/response protocol between `ipam-cni` and `ipam agent` over a unix socket.

One request per connection: the plugin connects to the agent's socket (default
/run/ipam/agent.sock), writes one JSON object terminated by a newline, reads one JSON object
terminated by a newline, and closes. Standard library only.

Request (all keys present; absent values are null / [] / {}):
    command          "ADD" | "DEL" | "CHECK" | "GC" | "STATUS"
    container_id     CNI_CONTAINERID ("" for GC/STATUS)
    ifname           CNI_IFNAME ("" for GC/STATUS)
    netns            CNI_NETNS (ADD; "" otherwise): recorded on the lease, for reconciliation
    network          the network config's "name"
    pools            [pool names] from ipam.pool / ipam.pools (one per family for dual-stack)
    space            ipam.space ("" = default)
    addresses        [bare IPs requested: runtimeConfig.ips, args.cni.ips, or CNI_ARGS IP=]
    single_subnet    true: keep the host to one subnet per pool (a bridge that is the gateway)
    attributes       {str: str}: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, network ...
    prev_addresses   [CIDR strings from prevResult.ips] (CHECK)
    valid_attachments [{"container_id": ..., "ifname": ...}] (GC)

Response, success:
    {"ok": true, "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1" | null, "family": 4}],
     "already": bool}
    (GC: "released": int, "errors": [str]; STATUS and DEL: just {"ok": true})
Response, failure:
    {"ok": false, "code": <CNI error code>, "msg": "...", "details": "..."}
    codes: 3 container unknown, 7 invalid network config, 11 try again later (server
    unreachable), 50 not available (STATUS), 100 address taken / outside pool, 101 pool or
    host subnets exhausted (also a single_subnet host whose subnet is full), 102 other
    server-side refusal.
"""

from __future__ import annotations

import json
import socket

# Not `from typing import ...`: importing typing costs ~3 ms on every CNI call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_SOCKET = "/run/ipam/agent.sock"
COMMANDS = ("ADD", "DEL", "CHECK", "GC", "STATUS")
MAX_MESSAGE = 1 << 20

CODE_CONTAINER_UNKNOWN = 3
CODE_INVALID_CONFIG = 7
CODE_TRY_AGAIN = 11
CODE_NOT_AVAILABLE = 50
CODE_ADDRESS_CONFLICT = 100
CODE_EXHAUSTED = 101
CODE_REFUSED = 102


def new_request(command: str, **fields: Any) -> dict[str, Any]:
    """A request with every key present: the given fields, defaults for the rest."""
    message: dict[str, Any] = {
        "command": command,
        "container_id": "",
        "ifname": "",
        "netns": "",
        "network": "",
        "pools": [],
        "space": "",
        "addresses": [],
        "single_subnet": False,
        "attributes": {},
        "prev_addresses": [],
        "valid_attachments": [],
    }
    unknown = fields.keys() - message.keys()
    if unknown:
        raise TypeError(f"not request fields: {sorted(unknown)}")
    message.update(fields)
    return message


def request(path: str, message: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to the agent and return its response (raises OSError when unreachable)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps(message).encode() + b"\n")
        return decode(read_line(sock))


def read_line(sock: socket.socket) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if chunk.endswith(b"\n") or size > MAX_MESSAGE:
            break
    return b"".join(chunks)


def decode(data: bytes) -> dict[str, Any]:
    value = json.loads(data.decode() or "null")
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def failure(code: int, msg: str, details: str = "") -> dict[str, Any]:
    return {"ok": False, "code": code, "msg": msg, "details": details}
