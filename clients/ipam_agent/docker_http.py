"""The Docker plugin socket: libnetwork's plugin HTTP protocol on a unix socket.

Every call is `POST /Method` with a JSON body, parsed whatever its Content-Type (dockerd may send
none). Success is 200 with JSON; any failure is 500 with {"Err": "message"}, which dockerd shows
as `IpamDriver.Method: message`. A request handler never lets an exception escape: a bad request
costs one error reply, never the agent.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any

from ipam_agent.docker_driver import DockerDriver, DriverError
from ipam_agent.server import UnixSocketServer

log = logging.getLogger("ipam_agent.docker_http")

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
MAX_BODY_BYTES = 1 << 20
READ_TIMEOUT_SECONDS = 10.0


def plugin_socket(name: str, directory: str) -> str:
    return f"{directory}/{name}.sock"


class _Handler(BaseHTTPRequestHandler):
    server: DockerPluginServer
    protocol_version = "HTTP/1.1"  # keep-alive: dockerd reuses its connection
    timeout = READ_TIMEOUT_SECONDS

    def do_POST(self) -> None:
        method = self.path.lstrip("/")
        try:
            reply = self.server.driver.call(method, self._body())
        except DriverError as err:
            self._send(500, {"Err": str(err)})
            log.info("%s failed: %s", method, err)
        except Exception as err:  # a bug must cost one reply, not the agent
            log.exception("%s failed", method)
            self._send(500, {"Err": f"{method}: internal error in the ipam agent: {err}"})
        else:
            self._send(200, reply)

    def do_GET(self) -> None:
        self._send(405, {"Err": f"{self.command} is not supported: plugin calls are POST /Method"})

    do_PUT = do_DELETE = do_GET

    def _body(self) -> Any:
        length_text = self.headers.get("Content-Length") or "0"
        if not length_text.isdigit():
            raise DriverError(f"bad Content-Length {length_text!r}")
        length = int(length_text)
        if length > MAX_BODY_BYTES:
            raise DriverError(f"the request body is too large ({length} bytes, at most {MAX_BODY_BYTES})")
        data = self.rfile.read(length) if length else b""
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as err:
            raise DriverError(f"the request body is not valid JSON: {err}") from None

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError as err:  # dockerd went away: nothing to tell it
            log.debug("cannot answer: %s", err)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def address_string(self) -> str:
        return "dockerd"  # a unix socket peer has no address


class DockerPluginServer(UnixSocketServer):
    def __init__(self, path: str, driver: DockerDriver) -> None:
        self.driver = driver
        super().__init__(path, _Handler)
