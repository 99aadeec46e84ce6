"""Which roles may call which RPC: the one table authorization reads.

Agents also pass the per-host check in the servicers (ipam.server.principal): an agent token may
register, allocate and release for its own host only. Health checks and reflection stay open.
A method missing from the table is for admins only (tests/test_auth_roles.py checks that every
method of the API is listed).
"""

from __future__ import annotations

from ipam.domain.errors import PermissionDenied
from ipam.domain.tokens import ADMIN, AGENT, READER, Principal

ADMIN_ONLY = frozenset({ADMIN})
ANY_ROLE = frozenset({ADMIN, AGENT, READER})  # reads
HOST_BOUND = frozenset({ADMIN, AGENT})  # writes an agent may make for its own host

OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

_TABLE: dict[str, dict[str, frozenset[str]]] = {
    "AddressSpaceService": {
        "CreateAddressSpace": ADMIN_ONLY,
        "ListAddressSpaces": ANY_ROLE,
        "DeleteAddressSpace": ADMIN_ONLY,
    },
    "PoolService": {
        "CreatePool": ADMIN_ONLY,
        "GetPool": ANY_ROLE,
        "ListPools": ANY_ROLE,
        "UpdatePool": ADMIN_ONLY,
        "DeletePool": ADMIN_ONLY,
    },
    "HostService": {
        "RegisterHost": HOST_BOUND,
        "GetHost": ANY_ROLE,
        "ListHosts": ANY_ROLE,
        "DrainHost": ADMIN_ONLY,
        "UndrainHost": ADMIN_ONLY,
        "DeleteHost": ADMIN_ONLY,
    },
    "SubnetService": {
        "AcquireSubnet": HOST_BOUND,
        "ReleaseSubnet": ADMIN_ONLY,
        "ListSubnets": ANY_ROLE,
    },
    "LeaseService": {
        "Allocate": HOST_BOUND,
        "Release": HOST_BOUND,
        "GetLease": ANY_ROLE,
        "ListLeases": ANY_ROLE,
    },
    "GcService": {
        "RunGc": ADMIN_ONLY,
        "ReconcileHost": HOST_BOUND,  # the agent's CNI GC, for its own host
        "ListGcRecords": ANY_ROLE,
    },
    "DockerNetworkService": {
        "RequestNetworkPool": HOST_BOUND,
        "ReleaseNetworkPool": HOST_BOUND,
        "RequestNetworkAddress": HOST_BOUND,
        "ReleaseNetworkAddress": HOST_BOUND,
        "ReconcileNetworks": HOST_BOUND,  # the agent's Docker reconciliation, for its own host
    },
    "EndpointService": {
        "RegisterEndpoint": HOST_BOUND,  # the servicer checks the endpoint's host
        "UpdateEndpointLabels": HOST_BOUND,
        "GetEndpoint": ANY_ROLE,
        "ListEndpoints": ANY_ROLE,
        "LookupAddress": ANY_ROLE,
        "WatchEndpoints": ANY_ROLE,
    },
    "TokenService": {
        "CreateToken": ADMIN_ONLY,
        "ListTokens": ADMIN_ONLY,
        "RevokeToken": ADMIN_ONLY,
    },
}
ROLES_OF: dict[str, frozenset[str]] = {
    f"/ipam.v1.{service}/{method}": roles for service, methods in _TABLE.items() for method, roles in methods.items()
}


def is_open(method: str) -> bool:
    return method.startswith(OPEN_PREFIXES)


def authorize(method: str, principal: Principal) -> None:
    if principal.role not in ROLES_OF.get(method, ADMIN_ONLY):
        name = method.rsplit("/", 1)[-1]
        raise PermissionDenied(f'{principal.role} token "{principal.name}" may not call {name}')
