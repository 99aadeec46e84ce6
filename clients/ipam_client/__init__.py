"""Thin Python client of the IPAM server (gRPC only: no database libraries).

Example::

    from ipam_client import AddressSpec, IpamClient, pb

    with IpamClient("127.0.0.1:50051") as ipam:
        ipam.create_pool("prod-v4", "10.1.0.0/16", 24, gateway_policy=pb.GATEWAY_POLICY_NONE)
        ipam.register_host("node-1", {"zone": "a"})
        reply = ipam.allocate("node-1", "container-1", "eth0", [AddressSpec(pool="prod-v4")])
        print(reply.leases[0].address_cidr)
"""

from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import registry_pb2 as registry_pb
from ipam_client._retry import Backoff, jittered
from ipam_client.client import IpamClient
from ipam_client.errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    IpamClientError,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    from_rpc_error,
)
from ipam_client.specs import AddressSpec

__all__ = [
    "AddressSpec",
    "AlreadyExists",
    "Backoff",
    "DeadlineExceeded",
    "FailedPrecondition",
    "InvalidArgument",
    "IpamClient",
    "IpamClientError",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "from_rpc_error",
    "jittered",
    "pb",
    "registry_pb",
]
