"""The CNI semantics of each request of :mod:`ipam_cni.protocol`, carried out with the IPAM client.

`Handlers.handle(message)` takes one decoded request and returns the response dict; it never
raises. Client errors become CNI error codes (see :func:`failure_of`).
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ipam_agent.heartbeat import Registration
from ipam_client import (
    AddressSpec,
    AlreadyExists,
    DeadlineExceeded,
    InvalidArgument,
    IpamClient,
    IpamClientError,
    NotFound,
    ResourceExhausted,
    Unavailable,
    pb,
)
from ipam_cni import protocol

log = logging.getLogger("ipam_agent.handlers")

NETWORK_ATTRIBUTE = "cni.network"
# The container's network namespace (CNI_NETNS): gone means the container is (cni_reconcile).
NETNS_ATTRIBUTE = "cni.netns"
POOL_CACHE_SECONDS = 60.0
# CNI's own codes for what the shim should have caught (kept here for requests from other clients).
CODE_INVALID_ENV = 4
CODE_DECODE = 6

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Response = dict[str, Any]


class RequestError(Exception):
    """A request the agent refuses by itself, with its CNI code."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


@dataclass(frozen=True)
class Request:
    """One request of the shim, checked (see the protocol module for the meaning of each key)."""

    command: str
    container_id: str = ""
    ifname: str = ""
    netns: str = ""
    network: str = ""
    pools: list[str] = field(default_factory=list)
    space: str = ""
    addresses: list[str] = field(default_factory=list)
    single_subnet: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    prev_addresses: list[str] = field(default_factory=list)
    valid_attachments: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def parse(cls, message: dict[str, Any]) -> Request:
        command = message.get("command")
        if command not in protocol.COMMANDS:
            raise RequestError(CODE_INVALID_ENV, f"command: {command!r} is not one of {', '.join(protocol.COMMANDS)}")
        request = cls(
            command=command,
            container_id=_string(message, "container_id"),
            ifname=_string(message, "ifname"),
            netns=_string(message, "netns"),
            network=_string(message, "network"),
            pools=_strings(message, "pools"),
            space=_string(message, "space"),
            addresses=_strings(message, "addresses"),
            single_subnet=message.get("single_subnet") is True,
            attributes=_attributes(message),
            prev_addresses=_strings(message, "prev_addresses"),
            valid_attachments=_attachments(message),
        )
        if command in ("ADD", "DEL", "CHECK"):
            missing = [key for key in ("container_id", "ifname") if not getattr(request, key)]
            if missing:
                raise RequestError(
                    CODE_INVALID_ENV, f"{command} needs {' and '.join(missing)} (CNI_CONTAINERID, CNI_IFNAME)"
                )
        return request


def _string(message: dict[str, Any], key: str) -> str:
    value = message.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestError(protocol.CODE_INVALID_CONFIG, f"{key}: expected a string, got {value!r}")
    return value


def _strings(message: dict[str, Any], key: str) -> list[str]:
    value = message.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RequestError(protocol.CODE_INVALID_CONFIG, f"{key}: expected a list of strings, got {value!r}")
    return value


def _attributes(message: dict[str, Any]) -> dict[str, str]:
    value = message.get("attributes") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise RequestError(protocol.CODE_INVALID_CONFIG, f"attributes: expected string values, got {value!r}")
    return dict(value)


def _attachments(message: dict[str, Any]) -> set[tuple[str, str]]:
    value = message.get("valid_attachments") or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise RequestError(
            protocol.CODE_INVALID_CONFIG, f"valid_attachments: expected a list of objects, got {value!r}"
        )
    return {(str(item.get("container_id") or ""), str(item.get("ifname") or "")) for item in value}


def failure_of(err: IpamClientError, server: str) -> Response:
    """The CNI failure for a client error: unreachable or too slow 11, unknown pool/space 7,
    bad or taken address 100, exhausted 101, any other refusal 102."""
    details = err.code.name
    if unreachable(err):
        return protocol.failure(protocol.CODE_TRY_AGAIN, f"{naming(err, server)} (try again later)", details)
    if isinstance(err, NotFound):
        return protocol.failure(protocol.CODE_INVALID_CONFIG, err.message, details)
    if isinstance(err, AlreadyExists) or (isinstance(err, InvalidArgument) and err.message.startswith("address")):
        return protocol.failure(protocol.CODE_ADDRESS_CONFLICT, err.message, details)
    if isinstance(err, InvalidArgument):
        return protocol.failure(protocol.CODE_INVALID_CONFIG, err.message, details)
    if isinstance(err, ResourceExhausted):
        return protocol.failure(protocol.CODE_EXHAUSTED, err.message, details)
    return protocol.failure(protocol.CODE_REFUSED, err.message, details)


def unreachable(err: IpamClientError) -> bool:
    """The server could not be reached, or did not answer in time (so trying again may work)."""
    return isinstance(err, Unavailable | DeadlineExceeded) or not err.reached_server


def naming(err: IpamClientError, server: str) -> str:
    """The error's message, naming the server when it does not already."""
    return err.message if server in err.message else f"IPAM server at {server}: {err.message}"


class PoolCache:
    """Pool CIDRs by name, fetched with GetPool and kept for `ttl` seconds."""

    def __init__(self, client: IpamClient, ttl: float = POOL_CACHE_SECONDS) -> None:
        self._client = client
        self._ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Network, float]] = {}

    def cidr(self, name: str) -> Network:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(name)
        if entry and entry[1] > now:
            return entry[0]
        network = ipaddress.ip_network(self._client.get_pool(name).cidr)
        with self._lock:
            self._entries[name] = (network, now + self._ttl)
        return network


class Handlers:
    """Carries out requests for one host. `client` makes the calls; `status_client` (short
    timeout, no retries) answers STATUS."""

    def __init__(self, client: IpamClient, status_client: IpamClient, registration: Registration) -> None:
        self.client = client
        self.status_client = status_client
        self.registration = registration
        self.host = registration.host
        self.pools = PoolCache(client)
        self._commands: dict[str, Callable[[Request], Response]] = {
            "ADD": self.add,
            "DEL": self.delete,
            "CHECK": self.check,
            "GC": self.gc,
            "STATUS": self.status,
        }

    def handle(self, message: dict[str, Any]) -> Response:
        try:
            request = Request.parse(message)
            return self._commands[request.command](request)
        except RequestError as err:
            return protocol.failure(err.code, err.msg)
        except IpamClientError as err:
            return failure_of(err, self.client.server)
        except Exception as err:
            log.exception("request %r failed", message.get("command"))
            return protocol.failure(protocol.CODE_REFUSED, f"internal error in ipam agent: {err}", type(err).__name__)

    # -- ADD --------------------------------------------------------------------------------

    def add(self, request: Request) -> Response:
        """Allocate one address per pool (or the requested addresses); a repeat gets the same leases."""
        specs = self._specs(request)
        attributes = {**request.attributes, NETWORK_ATTRIBUTE: request.network}
        if request.netns:
            attributes[NETNS_ATTRIBUTE] = request.netns
        self.registration.ensure()
        try:
            reply = self.client.allocate(self.host, request.container_id, request.ifname, specs, attributes)
        except NotFound as err:
            if not err.message.startswith("host "):
                raise
            # The host was deleted since our last heartbeat: register it again, once.
            self.registration.register()
            reply = self.client.allocate(self.host, request.container_id, request.ifname, specs, attributes)
        ips = [
            {"address": lease.address_cidr, "gateway": lease.gateway or None, "family": _family(lease.address)}
            for lease in reply.leases
        ]
        return {"ok": True, "ips": ips, "already": reply.already_allocated}

    def _specs(self, request: Request) -> list[AddressSpec]:
        addresses = [_address(text) for text in request.addresses]
        space = request.space
        single = request.single_subnet
        if not request.pools:
            if not addresses:
                return [AddressSpec(space=space, single_subnet=single)]
            return [AddressSpec(space=space, family=a.version, address=str(a)) for a in addresses]
        chosen: dict[str, str] = {}
        for address in addresses:
            pool = self._pool_for(address, request.pools)
            if pool in chosen:
                raise RequestError(
                    protocol.CODE_ADDRESS_CONFLICT,
                    f'addresses {chosen[pool]} and {address} both fall to pool "{pool}"; one address per pool',
                )
            chosen[pool] = str(address)
        return [
            AddressSpec(pool=pool, space=space, address=chosen.get(pool, ""), single_subnet=single)
            for pool in request.pools
        ]

    def _pool_for(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, pools: list[str]) -> str:
        """The pool whose CIDR holds `address`, else the first pool of its family (the server then
        says why the address does not fit)."""
        cidrs = {pool: self.pools.cidr(pool) for pool in pools}
        for pool, cidr in cidrs.items():
            if address in cidr:
                return pool
        for pool, cidr in cidrs.items():
            if cidr.version == address.version:
                return pool
        raise RequestError(
            protocol.CODE_ADDRESS_CONFLICT,
            f"address {address} is IPv{address.version} but no IPv{address.version} pool is configured "
            f"(pools: {', '.join(pools)})",
        )

    # -- DEL, CHECK -------------------------------------------------------------------------

    def delete(self, request: Request) -> Response:
        """Release the owner's leases; nothing held is a success."""
        self.client.release_owner(request.container_id, request.ifname)
        return {"ok": True}

    def check(self, request: Request) -> Response:
        """The owner's active leases must be exactly `prev_addresses` (when given)."""
        held = self._active(owner_id=request.container_id, interface=request.ifname)
        owner = f"container {request.container_id} interface {request.ifname}"
        if not held:
            return protocol.failure(protocol.CODE_CONTAINER_UNKNOWN, f"{owner} holds no address lease")
        have = sorted(lease.address_cidr for lease in held)
        if request.prev_addresses:
            want = sorted(str(_interface(text)) for text in request.prev_addresses)
            if {_interface(text) for text in have} != {_interface(text) for text in want}:
                return protocol.failure(
                    protocol.CODE_ADDRESS_CONFLICT,
                    f"{owner} holds {', '.join(have)} but prevResult has {', '.join(want)}",
                )
        return {"ok": True, "ips": [{"address": a, "family": _interface(a).version} for a in have]}

    # -- GC, STATUS -------------------------------------------------------------------------

    def gc(self, request: Request) -> Response:
        """Release this host's leases of the network whose (container, ifname) is not valid: one
        call, checked and recorded (GC history, reason runtime_gone) by the server."""
        reply = self.client.reconcile_host(
            self.host,
            sorted(request.valid_attachments),
            match_attributes={NETWORK_ATTRIBUTE: request.network},
            detail=f"CNI GC of network {request.network}",
        )
        return {"ok": True, "released": len(reply.released), "errors": []}

    def status(self, request: Request) -> Response:
        """Ok when the server answers and each pool (or some pool of the space) has free addresses."""
        try:
            if request.pools:
                pools = [self.status_client.get_pool(name) for name in request.pools]
            else:
                pools = [p for p in self.status_client.list_pools(request.space) if not p.disabled]
                if not pools:
                    return _unavailable(f'address space "{request.space or "default"}" has no enabled pool')
        except IpamClientError as err:
            reason = naming(err, self.status_client.server) if unreachable(err) else err.message
            return _unavailable(reason, err.code.name)
        problems = [_pool_problem(pool) for pool in pools]
        if request.pools and any(problems):
            return _unavailable("; ".join(p for p in problems if p))
        if not request.pools and all(problems):
            return _unavailable("; ".join(p for p in problems if p))
        return {"ok": True}

    def _active(self, *, host: str = "", owner_id: str = "", interface: str = "") -> list[pb.Lease]:
        return self.client.list_leases(host=host, owner_id=owner_id, interface=interface, state=pb.LEASE_STATE_ACTIVE)


def _pool_problem(pool: pb.Pool) -> str:
    if pool.disabled:
        return f'pool "{pool.name}" is disabled'
    if pool.usage.free_addresses in ("", "0"):
        return f'pool "{pool.name}" ({pool.cidr}) has no free address'
    return ""


def _unavailable(msg: str, details: str = "") -> Response:
    return protocol.failure(protocol.CODE_NOT_AVAILABLE, msg, details)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise RequestError(protocol.CODE_INVALID_CONFIG, f"addresses: {text!r} is not an IP address") from None


def _interface(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise RequestError(protocol.CODE_INVALID_CONFIG, f"prev_addresses: {text!r} is not an address/prefix") from None


def _family(address: str) -> int:
    return ipaddress.ip_address(address).version
