"""Docker's remote IPAM driver (libnetwork CNM): each method's request checked and carried out with
the IPAM client.

`DockerDriver.call(method, body)` returns the reply dict or raises `DriverError` with a message
for dockerd to show; it never raises anything else for bad input. All state lives in the server
(a restarted agent gets no new Activate and no replay), except which pools dockerd asked for since
it activated the driver: that is what tells its replay of a pool after a restart (the first
request for it since Activate) from a second network of the same subnet (refused).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Callable
from typing import Any

from ipam_agent.handlers import naming, unreachable
from ipam_client import IpamClient, IpamClientError, pb

log = logging.getLogger("ipam_agent.docker")

DEFAULT_ADDRESS_SPACE = "default"
GATEWAY_TYPE_KEY = "RequestAddressType"
GATEWAY_TYPE = "com.docker.network.gateway"
MAC_KEY = "com.docker.network.endpoint.macaddress"

Body = dict[str, Any]


class DriverError(Exception):
    """A failed call; the message goes to dockerd as {"Err": message}."""


class DockerDriver:
    def __init__(self, client: IpamClient, host: str, space: str = DEFAULT_ADDRESS_SPACE) -> None:
        self.client = client
        self.host = host
        self.space = space
        # Pool ids dockerd asked for since it activated the driver; None: no Activate since the
        # agent started, so dockerd is not replaying (it activates once per start, then replays).
        self._requested: set[str] | None = None
        self._lock = threading.Lock()
        self._methods: dict[str, Callable[[Body], Body]] = {
            "Plugin.Activate": self.activate,
            # The MAC tells a new container's --ip from an aux address and from a replayed address.
            "IpamDriver.GetCapabilities": lambda body: {"RequiresMACAddress": True, "RequiresRequestReplay": True},
            # dockerd passes the space back in RequestPool: Docker networks live in this one.
            "IpamDriver.GetDefaultAddressSpaces": lambda body: {
                "LocalDefaultAddressSpace": self.space,
                "GlobalDefaultAddressSpace": self.space,
            },
            "IpamDriver.RequestPool": self.request_pool,
            "IpamDriver.ReleasePool": self.release_pool,
            "IpamDriver.RequestAddress": self.request_address,
            "IpamDriver.ReleaseAddress": self.release_address,
        }

    def call(self, method: str, body: Any) -> Body:
        handler = self._methods.get(method)
        if handler is None:
            raise DriverError(f"unknown method {method!r} (this plugin implements {', '.join(self._methods)})")
        if method.startswith("IpamDriver.") and method not in _NO_BODY and not isinstance(body, dict):
            raise DriverError(f"{method}: the request body must be a JSON object, got {_kind(body)}")
        try:
            return handler(body)
        except IpamClientError as err:
            raise DriverError(naming(err, self.client.server) if unreachable(err) else err.message) from None

    def activate(self, body: Body) -> Body:
        with self._lock:
            self._requested = set()
        return {"Implements": ["IpamDriver"]}

    def request_pool(self, body: Body) -> Body:
        options = _options(body)
        space = _string(body, "AddressSpace", required=False)
        subnet = _string(body, "Pool", required=False)
        with self._lock:
            replay = self._requested is not None and _pool_key(space, subnet) not in self._requested
        reply = self.client.request_network_pool(
            self.host,
            space=space,
            subnet=subnet,
            ip_range=_string(body, "SubPool", required=False),
            options=options,
            v6=_bool(body, "V6"),
            replay=replay,
        )
        with self._lock:
            if self._requested is not None:
                self._requested.add(reply.pool_id)
        return {"PoolID": reply.pool_id, "Pool": reply.cidr, "Data": {}}

    def release_pool(self, body: Body) -> Body:
        pool_id = _string(body, "PoolID")
        self.client.release_network_pool(self.host, pool_id)
        with self._lock:
            if self._requested is not None:
                self._requested.discard(pool_id)
        return {}

    def request_address(self, body: Body) -> Body:
        pool_id = _string(body, "PoolID")
        address = _string(body, "Address", required=False)
        options = _options(body)
        mac = options.get(MAC_KEY, "")
        if options.get(GATEWAY_TYPE_KEY) == GATEWAY_TYPE:
            role = pb.NETWORK_ADDRESS_ROLE_GATEWAY
        elif address and not mac:  # --aux-address, or dockerd replaying an address after a restart
            role = pb.NETWORK_ADDRESS_ROLE_AUX
        else:
            role = pb.NETWORK_ADDRESS_ROLE_CONTAINER
        reply = self.client.request_network_address(self.host, pool_id, address, role=role, mac_address=mac)
        return {"Address": reply.address_cidr, "Data": {}}

    def release_address(self, body: Body) -> Body:
        self.client.release_network_address(self.host, _string(body, "PoolID"), _string(body, "Address"))
        return {}


_NO_BODY = {"IpamDriver.GetCapabilities", "IpamDriver.GetDefaultAddressSpaces"}


def _pool_key(space: str, subnet: str) -> str:
    """The pool id the server gives `subnet` ("" for a carved one, which is never a replay)."""
    try:
        cidr = str(ipaddress.ip_network(subnet))
    except ValueError:
        return ""  # carved (""), or not a CIDR: the server says why
    return f"{cidr}@{space or DEFAULT_ADDRESS_SPACE}"


_JSON_KINDS = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _kind(value: Any) -> str:
    """How a JSON value's type is named in messages."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _string(body: Body, key: str, *, required: bool = True) -> str:
    if key not in body or body[key] is None:
        if required:
            raise DriverError(f"{key}: missing from the request")
        return ""
    value = body[key]
    if not isinstance(value, str):
        raise DriverError(f"{key}: expected a string, got {_kind(value)}")
    if required and not value:
        raise DriverError(f"{key}: must not be empty")
    return value


def _bool(body: Body, key: str) -> bool:
    value = body.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise DriverError(f"{key}: expected true or false, got {_kind(value)}")
    return value


def _options(body: Body) -> dict[str, str]:
    """The Options map; dockerd sends null for an empty one."""
    value = body.get("Options")
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise DriverError(f"Options: expected an object of strings, got {_kind(value)}")
    return value
