"""Talking to the agent's Docker plugin socket the way dockerd does: POST /Method with a JSON body
on a unix socket (no Content-Type unless asked for)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ipam_agent.docker_driver import DockerDriver
from ipam_agent.docker_engine import UnixHttpConnection
from ipam_agent.docker_http import DockerPluginServer
from ipam_client import IpamClient


def post(
    path: str, method: str, body: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """(HTTP status, decoded JSON reply) of one call; `raw` sends those bytes instead of JSON."""
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    conn = UnixHttpConnection(path, timeout=30)
    try:
        conn.request(
            "POST",
            f"/{method}",
            body=data,
            headers={"Accept": "application/vnd.docker.plugins.v1.2+json", **(headers or {})},
        )
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


class Plugin:
    """A Docker plugin socket of one host, served in this process by the agent's real HTTP server."""

    def __init__(self, path: str) -> None:
        self.path = path

    def call(self, method: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return post(self.path, method, body, **kwargs)

    def ok(self, method: str, body: Any = None) -> Any:
        status, reply = self.call(method, body)
        assert status == 200, reply
        return reply

    def err(self, method: str, body: Any = None, **kwargs: Any) -> str:
        status, reply = self.call(method, body, **kwargs)
        assert status == 500 and set(reply) == {"Err"}, (status, reply)
        return str(reply["Err"])

    def request_pool(
        self, pool: str = "", sub_pool: str = "", options: dict[str, str] | None = None, v6: bool = False
    ) -> Any:
        body = {"AddressSpace": "default", "Pool": pool, "SubPool": sub_pool, "Options": options, "V6": v6}
        return self.ok("IpamDriver.RequestPool", body)

    def request_address(self, pool_id: str, address: str = "", options: dict[str, str] | None = None) -> str:
        body = {"PoolID": pool_id, "Address": address, "Options": options}
        return str(self.ok("IpamDriver.RequestAddress", body)["Address"])


@contextmanager
def serve_plugin(path: str, server: str, host: str, *, retries: int = 0) -> Iterator[Plugin]:
    client = IpamClient(server, retries=retries, timeout=5)
    plugin_server = DockerPluginServer(path, DockerDriver(client, host))
    thread = threading.Thread(target=plugin_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Plugin(path)
    finally:
        plugin_server.shutdown()
        plugin_server.remove()
        client.close()
