"""Use cases for Docker networks (the CNM remote IPAM driver): pools and addresses, one transaction each.

A network subnet is registered once per address space and shared by every host whose dockerd
asks for it (the same `--subnet` on several hosts is one network, one address range). Every
request is idempotent so that dockerd may replay it after a restart (RequiresRequestReplay):
- RequestPool for a registered subnet returns the same pool id (the host becomes a member once);
  from a host that is already a member only as a replay: otherwise dockerd is creating a second
  network of the subnet, which it refuses itself, and its ReleasePool would end the first one's
  membership;
- the gateway and aux addresses are network-wide leases: asking again returns them;
- a container address asked for again without a MAC (a replay) returns the lease this host's
  container already holds; with a MAC (a new container) an address in use is ALREADY_EXISTS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from ipam.domain import validate
from ipam.domain.docker_network import (
    NETWORK_WIDE,
    ROLE_AUX,
    ROLE_CONTAINER,
    ROLE_GATEWAY,
    ROLES,
    NetworkLayout,
    first_free_subnet,
    parse_pool_id,
    pool_id,
)
from ipam.domain.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from ipam.domain.network import Address, Network, parse_address, parse_cidr
from ipam.domain.records import PoolRecord
from ipam.service.pool_choice import choose_pool
from ipam.store import hosts as host_store
from ipam.store import leases as lease_store
from ipam.store import networks as network_store
from ipam.store import pools as pool_store
from ipam.store import tx
from ipam.store.networks import DockerOwner, NetworkRow
from ipam.store.spaces import DEFAULT_SPACE

# --ipam-opt reaches both halves of a dual-stack network: each family has its own keys.
OPTION_POOL = {4: "pool", 6: "pool-v6"}
OPTION_PREFIX_LENGTH = {4: "prefix-length", 6: "prefix-length-v6"}
OPTIONS = (*OPTION_POOL.values(), *OPTION_PREFIX_LENGTH.values())
# Races that running again resolves: two requests on one slot, or a host joining a network that
# its last member was deleting (the membership's foreign key fails; the retry registers it anew).
_RACES = (
    "lease_one_per_owner",
    "lease_owner_on_one_host",
    "docker_network_host_subnet_id_fkey",
    # As in ipam.service.leases: a concurrent insert of the same slot, seen by the retry.
    "lease_one_active_per_address",
)


@dataclass(frozen=True)
class PoolRequest:
    host: str
    space: str = ""
    subnet: str = ""
    ip_range: str = ""
    options: dict[str, str] | None = None
    v6: bool = False
    replay: bool = False


@dataclass(frozen=True)
class NetworkPool:
    pool_id: str
    cidr: str


@dataclass(frozen=True)
class AddressRequest:
    host: str
    pool_id: str
    address: str = ""
    role: str = ROLE_CONTAINER
    mac: str = ""


def request_pool(engine: Engine, request: PoolRequest) -> NetworkPool:
    validate.name("host", request.host)
    space = request.space or DEFAULT_SPACE
    options = dict(request.options or {})
    unknown = sorted(options.keys() - set(OPTIONS))
    if unknown:
        raise InvalidArgument(f"options: unknown option {unknown[0]!r} (known: {', '.join(OPTIONS)})")
    if request.ip_range and not request.subnet:
        raise InvalidArgument("ip_range: give it with a subnet (--ip-range needs --subnet)")
    layout = NetworkLayout.build(request.subnet, request.ip_range) if request.subnet else None
    family = 6 if request.v6 else 4
    if layout is not None and layout.family != family:
        raise InvalidArgument(f"subnet: {layout.subnet} is IPv{layout.family} but an IPv{family} pool was asked for")

    def work(conn: Connection) -> NetworkPool:
        host_id, labels = host_store.host_id_and_labels(conn, request.host)
        if layout is not None:
            network = _register(conn, space, layout, options.get(OPTION_POOL[family], ""))
            if not request.replay:
                _refuse_second_network(conn, network, host_id, request.host)
        else:
            pool_name = options.get(OPTION_POOL[family], "")
            pool = choose_pool(conn, pool=pool_name, space=space, family=family, host=request.host, labels=labels)
            network = _carve(conn, pool, _prefix_length(options.get(OPTION_PREFIX_LENGTH[family], ""), pool))
        network_store.add_member(conn, network.id, host_id)
        return NetworkPool(pool_id(space, network.cidr), network.cidr)

    return tx.run(engine, work, retry_on_constraints=_RACES)


def _prefix_length(text: str, pool: PoolRecord) -> int:
    if not text:
        return pool.host_prefix_length
    bits = 32 if pool.family == 4 else 128
    low = int(pool.cidr.split("/")[1])
    if not text.isdigit() or not low <= int(text) <= bits - 2:
        raise InvalidArgument(
            f'options: {OPTION_PREFIX_LENGTH[pool.family]} {text!r} is out of range for pool "{pool.name}" '
            f"({pool.cidr}): {low}..{bits - 2}"
        )
    return int(text)


def _register(conn: Connection, space: str, layout: NetworkLayout, pool_name: str) -> NetworkRow:
    """The network of this exact subnet (joined), else a new registration that overlaps nothing."""
    cidr = str(layout.subnet)
    ip_range = "" if layout.ip_range is None else str(layout.ip_range)
    existing = network_store.by_cidr(conn, space, cidr)
    if existing is not None:
        return _joined(existing, ip_range)
    if pool_name:
        pool = pool_store.get_pool(conn, pool_name)
        if not layout.subnet.subnet_of(parse_cidr("pool", pool.cidr)):  # type: ignore[arg-type]
            raise InvalidArgument(f'subnet: {cidr} is not inside pool "{pool.name}" ({pool.cidr})')
    else:
        found = network_store.pool_holding(conn, space, cidr)
        if found is None:
            raise FailedPrecondition(
                f'subnet {cidr} is not inside any pool of address space "{space}"; create a pool that holds it'
            )
        pool = pool_store.get_pool_by_id(conn, found)
    if pool.space != space:
        raise InvalidArgument(f'options: pool "{pool.name}" is in address space "{pool.space}", not "{space}"')
    inserted = network_store.insert(conn, _values(pool, layout))
    if inserted is not None:
        return inserted
    concurrent = network_store.by_cidr(conn, space, cidr)  # another host registered it just now
    if concurrent is not None:
        return _joined(concurrent, ip_range)
    raise AlreadyExists(f"subnet {cidr} overlaps {_describe_overlap(conn, pool.space_id, cidr)}")


def _refuse_second_network(conn: Connection, network: NetworkRow, host_id: int, host: str) -> None:
    """ALREADY_EXISTS when the host is a member already (locked: concurrent requests take turns;
    a network deleted meanwhile fails the membership's foreign key, and the request runs again)."""
    if network_store.lock(conn, network.id) is not None and network_store.is_member(conn, network.id, host_id):
        raise AlreadyExists(
            f'subnet {network.cidr} is already used by a Docker network on host "{host}": '
            "one host cannot have two networks of one subnet"
        )


def _joined(network: NetworkRow, ip_range: str) -> NetworkRow:
    """The registered network of the subnet, for a host that asks with the same ip-range."""
    if (network.ip_range or "") != ip_range:
        raise AlreadyExists(
            f"subnet {network.cidr} is already a Docker network with ip-range {network.ip_range or 'none'}, "
            f"not {ip_range or 'none'}"
        )
    return network


def _carve(conn: Connection, pool: PoolRecord, prefix_length: int) -> NetworkRow:
    """A fresh aligned subnet of the pool that overlaps no network or host subnet of the space."""
    within = parse_cidr("pool", pool.cidr)
    reserved = [parse_cidr("reserved", r) for r in pool.reserved_cidrs]
    while True:
        taken = sorted(
            [parse_cidr("subnet", c) for c in network_store.taken_in(conn, pool.space_id, within)] + reserved,
            key=lambda n: int(n.network_address),
        )
        free = first_free_subnet(within, prefix_length, taken)
        if free is None:
            raise ResourceExhausted(
                f'pool "{pool.name}" ({pool.cidr}) has no free /{prefix_length} left for a Docker network'
            )
        inserted = network_store.insert(conn, _values(pool, NetworkLayout.build(str(free))))
        if inserted is not None:
            return inserted
        # Registered concurrently by another request: look again.


def _values(pool: PoolRecord, layout: NetworkLayout) -> dict[str, object]:
    return {
        "pool_id": pool.id,
        "space_id": pool.space_id,
        "cidr": str(layout.subnet),
        "ip_range": None if layout.ip_range is None else str(layout.ip_range),
        "next_offset": layout.first_offset,
        "offset_limit": layout.offset_limit,
    }


def _describe_overlap(conn: Connection, space_id: int, cidr: str) -> str:
    other = network_store.overlapping(conn, space_id, cidr)
    if other is None:  # gone meanwhile; the next attempt will tell
        return "a subnet registered concurrently"
    if other.kind == "docker":
        return f"Docker network subnet {other.cidr}"
    return f'host subnet {other.cidr} of host "{other.host}"'


def release_pool(engine: Engine, host: str, pool: str) -> None:
    """The host leaves the network; the last host to leave deletes it with all its leases."""
    validate.name("host", host)
    space, subnet = parse_pool_id(pool)

    def work(conn: Connection) -> None:
        host_id, _ = host_store.host_id_and_labels(conn, host)
        network = _locked(conn, space, subnet)
        if network is None:
            return  # already released
        leave_network(conn, network, host_id)

    tx.run(engine, work)


def leave_network(conn: Connection, network: NetworkRow, host_id: int) -> bool:
    """The host leaves the (locked) network, releasing its containers' addresses; the last member
    deletes the network with its leases. True when it was deleted."""
    network_store.remove_member(conn, network.id, host_id)
    network_store.release_host_containers(conn, network.id, host_id)
    if network_store.other_members(conn, network.id, host_id):
        return False
    network_store.delete(conn, network.id)
    return True


def request_address(engine: Engine, request: AddressRequest) -> str:
    """The address (as address/prefix-length) leased for the request."""
    validate.name("host", request.host)
    if request.role not in ROLES:
        raise InvalidArgument(f"role: {request.role!r} is not one of {', '.join(ROLES)}")
    mac = validate.mac("mac_address", request.mac)
    space, subnet = parse_pool_id(request.pool_id)
    wanted = parse_address("address", request.address) if request.address else None

    def work(conn: Connection) -> str:
        host_id, _ = host_store.host_id_and_labels(conn, request.host)
        network = _locked_network(conn, space, subnet, request.pool_id)
        if not network_store.is_member(conn, network.id, host_id):
            # dockerd asks for the pool (RequestNetworkPool) before any address of it; a host that
            # skipped that is not using the network and may not take its addresses.
            raise FailedPrecondition(
                f'host "{request.host}" has not joined Docker network {network.cidr}: '
                "request the network pool on that host first"
            )
        layout = NetworkLayout.build(network.cidr, network.ip_range or "")
        pool = pool_store.get_pool_by_id(conn, network.pool_id)
        if request.role == ROLE_GATEWAY and network.gateway is not None:
            if wanted is not None and str(wanted) != network.gateway:
                raise AlreadyExists(f"network {network.cidr} already has gateway {network.gateway}, not {wanted}")
            return f"{network.gateway}/{layout.subnet.prefixlen}"
        owner = _owner(network, request.role, mac)
        if wanted is not None:
            address = _take_specific(conn, network, layout, host_id, wanted, owner, request)
        else:
            address = _take_any(conn, network, layout, pool, host_id, owner)
        if request.role == ROLE_GATEWAY:
            network_store.set_gateway(conn, network.id, address)
        return f"{address}/{layout.subnet.prefixlen}"

    return tx.run(engine, work, retry_on_constraints=_RACES)


def _locked(conn: Connection, space: str, subnet: Network) -> NetworkRow | None:
    """The network of the subnet, locked: requests for one network take turns."""
    found = network_store.by_cidr(conn, space, str(subnet))
    return None if found is None else network_store.lock(conn, found.id)


def _locked_network(conn: Connection, space: str, subnet: Network, shown: str) -> NetworkRow:
    network = _locked(conn, space, subnet)
    if network is None:
        raise NotFound(f"unknown pool id {shown!r}: no Docker network {subnet} in address space {space!r}")
    return network


def _owner(network: NetworkRow, role: str, mac: str) -> DockerOwner:
    attributes = {"docker.network": network.cidr, "docker.role": role}
    if mac:
        attributes["docker.mac"] = mac
    return DockerOwner(f"docker:{network.cidr}#", role, attributes)


def _take_specific(
    conn: Connection,
    network: NetworkRow,
    layout: NetworkLayout,
    host_id: int,
    wanted: Address,
    owner: DockerOwner,
    request: AddressRequest,
) -> str:
    layout.check_assignable(wanted)
    offset = layout.offset_of(wanted)
    address = str(wanted)
    if network_store.insert_lease(conn, network, host_id, offset, address, owner) is not None:
        return address
    held = lease_store.holder(conn, network.id, offset)
    assert held is not None
    if _is_replay(held, request, host_id):
        return address
    raise AlreadyExists(f"address {address} of network {network.cidr} is already {_describe_lease(held)}")


def _is_replay(held: Any, request: AddressRequest, host_id: int) -> bool:
    """Whether a request for a held address is dockerd asking again for what it already has."""
    role = held.interface
    if request.role == ROLE_AUX and role == ROLE_AUX:
        return True  # an aux address is the network's: every host asks for it
    # A replayed container address carries no MAC, which tells it from a new container's --ip.
    return request.role == ROLE_AUX and role == ROLE_CONTAINER and held.host_id == host_id


def _describe_lease(held: Any) -> str:
    if held.interface in NETWORK_WIDE:
        return f"its {'gateway' if held.interface == ROLE_GATEWAY else 'aux address'}"
    return f'held by a container on host "{held.host}"'


def _take_any(
    conn: Connection, network: NetworkRow, layout: NetworkLayout, pool: PoolRecord, host_id: int, owner: DockerOwner
) -> str:
    reused = network_store.reuse_released(conn, network, host_id, pool.cooldown_seconds, owner)
    if reused is not None:
        return str(lease_store.by_ids(conn, [reused])[0].address)
    while True:
        offset = network_store.bump(conn, network.id)
        if offset is None:
            shown = network.ip_range or network.cidr
            raise ResourceExhausted(f"network {network.cidr} has no free address left in {shown}")
        address = str(layout.address(offset))
        if network_store.insert_lease(conn, network, host_id, offset, address, owner) is not None:
            return address
        # Held by a request for that very address: take the next one.


def release_address(engine: Engine, host: str, pool: str, address: str) -> None:
    """Release a container's address; network-wide ones only when no other host uses the network."""
    validate.name("host", host)
    space, subnet = parse_pool_id(pool)
    wanted = parse_address("address", address)

    def work(conn: Connection) -> None:
        host_id, _ = host_store.host_id_and_labels(conn, host)
        network = _locked(conn, space, subnet)
        if network is None:
            return  # the network is gone, and its leases with it
        layout = NetworkLayout.build(network.cidr, network.ip_range or "")
        if wanted.version != layout.family or wanted not in layout.subnet:
            raise InvalidArgument(f"address: {wanted} is outside the network subnet {network.cidr}")
        held = lease_store.holder(conn, network.id, layout.offset_of(wanted))
        if held is None or held.state != "active":
            return  # already released
        if held.interface == ROLE_CONTAINER and held.host_id != host_id:
            raise FailedPrecondition(f'address {wanted} is held by a container on host "{held.host}", not on "{host}"')
        if held.interface in NETWORK_WIDE and network_store.other_members(conn, network.id, host_id):
            return  # still the gateway / aux address of the network on other hosts
        network_store.release_ids(conn, [int(held.id)])
        if held.interface == ROLE_GATEWAY:
            network_store.set_gateway(conn, network.id, None)

    tx.run(engine, work)
