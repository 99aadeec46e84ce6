"""gRPC servicers: request message -> use case -> response message. No rules live here."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from ipam.domain.errors import InvalidArgument
from ipam.server import convert
from ipam.server.metrics import Metrics
from ipam.server.principal import bound_host, require_host
from ipam.server.token_cache import TokenCache
from ipam.service import hosts, leases, pools, spaces, subnets, tokens
from ipam_client._pb.ipam.v1 import ipam_pb2 as pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc

Ctx = grpc.ServicerContext


class AddressSpaceServicer(rpc.AddressSpaceServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def CreateAddressSpace(self, request: pb.CreateAddressSpaceRequest, context: Ctx) -> pb.AddressSpace:
        return convert.space(spaces.create_space(self.engine, request.name, request.description))

    def ListAddressSpaces(self, request: pb.ListAddressSpacesRequest, context: Ctx) -> pb.ListAddressSpacesResponse:
        page = spaces.list_spaces(self.engine, request.page_size, request.page_token)
        return pb.ListAddressSpacesResponse(
            address_spaces=[convert.space(s) for s in page.items], next_page_token=page.next_token
        )

    def DeleteAddressSpace(self, request: pb.DeleteAddressSpaceRequest, context: Ctx) -> pb.DeleteAddressSpaceResponse:
        spaces.delete_space(self.engine, request.name)
        return pb.DeleteAddressSpaceResponse()


class PoolServicer(rpc.PoolServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def CreatePool(self, request: pb.CreatePoolRequest, context: Ctx) -> pb.Pool:
        spec = pools.PoolSpec(
            name=request.name,
            cidr=request.cidr,
            host_prefix_length=request.host_prefix_length,
            space=request.space,
            reserved_cidrs=list(request.reserved_cidrs),
            host_selector=request.host_selector,
            disabled=request.disabled,
            cooldown_seconds=request.cooldown_seconds,
            max_subnets_per_host=request.max_subnets_per_host,
            gateway_policy=convert.gateway_policy(request.gateway_policy),
        )
        return convert.pool(pools.create_pool(self.engine, spec))

    def GetPool(self, request: pb.GetPoolRequest, context: Ctx) -> pb.Pool:
        return convert.pool(pools.get_pool(self.engine, request.name))

    def ListPools(self, request: pb.ListPoolsRequest, context: Ctx) -> pb.ListPoolsResponse:
        page = pools.list_pools(self.engine, request.space, request.page_size, request.page_token)
        return pb.ListPoolsResponse(pools=[convert.pool(p) for p in page.items], next_page_token=page.next_token)

    def UpdatePool(self, request: pb.UpdatePoolRequest, context: Ctx) -> pb.Pool:
        if request.reserved_cidrs and not request.set_reserved_cidrs:
            raise InvalidArgument("reserved_cidrs: given without set_reserved_cidrs = true")
        changes = pools.PoolChanges(
            disabled=request.disabled if request.HasField("disabled") else None,
            cooldown_seconds=request.cooldown_seconds if request.HasField("cooldown_seconds") else None,
            max_subnets_per_host=(request.max_subnets_per_host if request.HasField("max_subnets_per_host") else None),
            host_selector=request.host_selector if request.HasField("host_selector") else None,
            reserved_cidrs=list(request.reserved_cidrs) if request.set_reserved_cidrs else None,
        )
        return convert.pool(pools.update_pool(self.engine, request.name, changes))

    def DeletePool(self, request: pb.DeletePoolRequest, context: Ctx) -> pb.DeletePoolResponse:
        pools.delete_pool(self.engine, request.name, request.force)
        return pb.DeletePoolResponse()


class HostServicer(rpc.HostServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def RegisterHost(self, request: pb.RegisterHostRequest, context: Ctx) -> pb.Host:
        require_host(request.name, f'register host "{request.name}"')
        return convert.host(hosts.register_host(self.engine, request.name, dict(request.labels)))

    def GetHost(self, request: pb.GetHostRequest, context: Ctx) -> pb.Host:
        return convert.host(hosts.get_host(self.engine, request.name))

    def ListHosts(self, request: pb.ListHostsRequest, context: Ctx) -> pb.ListHostsResponse:
        page = hosts.list_hosts(self.engine, request.page_size, request.page_token)
        return pb.ListHostsResponse(hosts=[convert.host(h) for h in page.items], next_page_token=page.next_token)


class SubnetServicer(rpc.SubnetServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def AcquireSubnet(self, request: pb.AcquireSubnetRequest, context: Ctx) -> pb.HostSubnet:
        require_host(request.host, f'acquire subnets for host "{request.host}"')
        family = convert.family("family", request.family)
        record = subnets.acquire_subnet(self.engine, request.host, request.pool, request.space, family)
        return convert.subnet(record)

    def ReleaseSubnet(self, request: pb.ReleaseSubnetRequest, context: Ctx) -> pb.ReleaseSubnetResponse:
        subnets.release_subnet(self.engine, request.cidr, request.space, request.force)
        return pb.ReleaseSubnetResponse()

    def ListSubnets(self, request: pb.ListSubnetsRequest, context: Ctx) -> pb.ListSubnetsResponse:
        page = subnets.list_subnets(
            self.engine,
            pool=request.pool,
            host=request.host,
            address=request.address,
            space=request.space,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListSubnetsResponse(subnets=[convert.subnet(s) for s in page.items], next_page_token=page.next_token)


class LeaseServicer(rpc.LeaseServiceServicer):
    def __init__(self, engine: Engine, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.allocator = leases.Allocator(engine)
        self.metrics = metrics

    def Allocate(self, request: pb.AllocateRequest, context: Ctx) -> pb.AllocateResponse:
        require_host(request.host, f'allocate for host "{request.host}"')
        command = leases.AllocateCommand(
            host=request.host,
            owner_id=request.owner_id,
            interface=request.interface,
            attributes=dict(request.attributes),
            addresses=[
                leases.AddressSpec(
                    pool=a.pool,
                    space=a.space,
                    family=convert.family(f"addresses[{i}].family", a.family),
                    address=a.address,
                )
                for i, a in enumerate(request.addresses)
            ],
        )
        result = self.allocator.allocate(command)
        if self.metrics is not None and not result.already_allocated:
            self.metrics.allocated.inc(len(result.leases))
        return pb.AllocateResponse(
            leases=[convert.lease(r) for r in result.leases], already_allocated=result.already_allocated
        )

    def Release(self, request: pb.ReleaseRequest, context: Ctx) -> pb.ReleaseResponse:
        target = request.WhichOneof("target")
        if target == "owner":
            owner = request.owner
            result = leases.release_owner(self.engine, owner.owner_id, owner.interface, only_host=bound_host())
        elif target == "address":
            address = request.address
            result = leases.release_address(self.engine, address.address, address.space, only_host=bound_host())
        else:
            raise InvalidArgument("target: give either owner or address")
        if self.metrics is not None:
            self.metrics.released.inc(len(result.leases))
        return pb.ReleaseResponse(
            leases=[convert.lease(r) for r in result.leases], already_released=result.already_released
        )

    def GetLease(self, request: pb.GetLeaseRequest, context: Ctx) -> pb.Lease:
        return convert.lease(leases.get_lease(self.engine, request.address, request.space))

    def ListLeases(self, request: pb.ListLeasesRequest, context: Ctx) -> pb.ListLeasesResponse:
        page = leases.list_leases(
            self.engine,
            pool=request.pool,
            host=request.host,
            owner_id=request.owner_id,
            interface=request.interface,
            state=convert.lease_state(request.state),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListLeasesResponse(leases=[convert.lease(r) for r in page.items], next_page_token=page.next_token)


class TokenServicer(rpc.TokenServiceServicer):
    def __init__(self, engine: Engine, cache: TokenCache | None) -> None:
        self.engine = engine
        self.cache = cache

    def CreateToken(self, request: pb.CreateTokenRequest, context: Ctx) -> pb.CreateTokenResponse:
        created = tokens.create_token(self.engine, request.name, request.role, request.host, request.ttl_seconds)
        return pb.CreateTokenResponse(token=convert.token(created.record), secret=created.token)

    def ListTokens(self, request: pb.ListTokensRequest, context: Ctx) -> pb.ListTokensResponse:
        page = tokens.list_tokens(
            self.engine, request.page_size, request.page_token, include_revoked=request.include_revoked
        )
        return pb.ListTokensResponse(tokens=[convert.token(t) for t in page.items], next_page_token=page.next_token)

    def RevokeToken(self, request: pb.RevokeTokenRequest, context: Ctx) -> pb.ApiToken:
        record = tokens.revoke_token(self.engine, request.name)
        if self.cache is not None:
            self.cache.forget(record.id)  # other replicas forget it within the cache's TTL
        return convert.token(record)
