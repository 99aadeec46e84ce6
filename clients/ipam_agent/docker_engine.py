"""A tiny client of dockerd's Engine API over its unix socket (standard library only): the networks
of one IPAM driver, with their subnets and the addresses their endpoints hold.

`GET /networks` does not show a network's endpoints (API 1.28 and later), so each network of the
driver is read again with `GET /networks/{id}`.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

from ipam_agent.options import docker_socket_path

TIMEOUT_SECONDS = 10.0

# One network as the server's ReconcileNetworks takes it: (subnets, container addresses).
NetworkInUse = tuple[list[str], list[str]]


class DockerEngineError(Exception):
    """dockerd could not be asked, or answered something unexpected (the message says which)."""


class _Gone(DockerEngineError):
    """The network was removed between the listing and the look at it."""


class UnixHttpConnection(http.client.HTTPConnection):
    """HTTP over a unix socket (dockerd's API, a plugin's socket)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


class DockerEngine:
    def __init__(self, docker_host: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.docker_host = docker_host
        self.path = docker_socket_path(docker_host)
        self.timeout = timeout

    def get(self, resource: str) -> Any:
        """The decoded JSON of `GET resource`; DockerEngineError otherwise."""
        conn = UnixHttpConnection(self.path, self.timeout)
        try:
            conn.request("GET", resource)
            reply = conn.getresponse()
            body = reply.read()
        except (OSError, http.client.HTTPException) as err:
            raise DockerEngineError(f"cannot reach dockerd at {self.docker_host}: {err}") from None
        finally:
            conn.close()
        if reply.status == 404:
            raise _Gone(f"GET {resource}: not found")
        if reply.status != 200:
            raise DockerEngineError(
                f"dockerd at {self.docker_host}: GET {resource}: HTTP {reply.status}: {_message(body)}"
            )
        try:
            return json.loads(body)
        except ValueError:
            raise DockerEngineError(f"dockerd at {self.docker_host}: GET {resource}: the reply is not JSON") from None

    def networks_in_use(self, driver: str) -> list[NetworkInUse]:
        """(subnets, container addresses) of every network whose IPAM driver is `driver`."""
        found = []
        for summary in _list(self.get("/networks"), "GET /networks"):
            if _ipam(summary).get("Driver") != driver:
                continue
            try:
                network = self.get(f"/networks/{quote(str(summary.get('Id', '')), safe='')}")
            except _Gone:
                continue  # removed meanwhile: not in use
            in_use = _in_use(network)
            if in_use[0]:
                found.append(in_use)
        return found


def _in_use(network: Any) -> NetworkInUse:
    try:
        subnets = [str(c["Subnet"]) for c in _ipam(network).get("Config") or [] if c.get("Subnet")]
        endpoints = (network.get("Containers") or {}).values()
        addresses = [str(a) for e in endpoints for a in (e.get("IPv4Address"), e.get("IPv6Address")) if a]
    except (AttributeError, KeyError, TypeError):
        raise DockerEngineError(f"unexpected network from dockerd: {str(network)[:200]}") from None
    return subnets, addresses


def _ipam(network: Any) -> dict[str, Any]:
    ipam = network.get("IPAM") if isinstance(network, dict) else None
    return ipam if isinstance(ipam, dict) else {}


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise DockerEngineError(f"{what}: expected a JSON array from dockerd")
    return value


def _message(body: bytes) -> str:
    """dockerd's {"message": ...}, else the body's start."""
    try:
        return str(json.loads(body)["message"])
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")
