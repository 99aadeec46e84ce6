"""gRPC servicers: request message -> use case -> response message. No rules live here."""

from __future__ import annotations

import grpc
from sqlalchemy import Engine

from ipam.domain.errors import InvalidArgument
from ipam.server import convert
from ipam.server.metrics import Metrics
from ipam.server.principal import bound_host, require_host
from ipam.server.token_cache import TokenCache
from ipam.service import gc, hosts, leases, networks, pools, spaces, subnets, tokens
from ipam.service.gc import GcSettings
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
    def __init__(self, engine: Engine, settings: GcSettings, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.grace = settings.grace_seconds
        self.metrics = metrics
        self.heartbeats = hosts.Heartbeats(engine, self.grace)

    def RegisterHost(self, request: pb.RegisterHostRequest, context: Ctx) -> pb.Host:
        require_host(request.name, f'register host "{request.name}"')
        record = self.heartbeats.register(request.name, dict(request.labels), request.heartbeat_ttl_seconds)
        return convert.host(record)

    def GetHost(self, request: pb.GetHostRequest, context: Ctx) -> pb.Host:
        return convert.host(hosts.get_host(self.engine, request.name, self.grace))

    def ListHosts(self, request: pb.ListHostsRequest, context: Ctx) -> pb.ListHostsResponse:
        page = hosts.list_hosts(self.engine, request.page_size, request.page_token, self.grace)
        return pb.ListHostsResponse(hosts=[convert.host(h) for h in page.items], next_page_token=page.next_token)

    def DrainHost(self, request: pb.DrainHostRequest, context: Ctx) -> pb.Host:
        return convert.host(hosts.set_drained(self.engine, request.name, True, self.grace))

    def UndrainHost(self, request: pb.UndrainHostRequest, context: Ctx) -> pb.Host:
        return convert.host(hosts.set_drained(self.engine, request.name, False, self.grace))

    def DeleteHost(self, request: pb.DeleteHostRequest, context: Ctx) -> pb.DeleteHostResponse:
        deletion = gc.delete_host(self.engine, request.name, self.grace)
        if self.metrics is not None:
            self.metrics.observe_released(deletion.released)
        return pb.DeleteHostResponse(
            released=[convert.gc_item(item) for item in deletion.released],
            kept_for_history=deletion.kept_for_history,
            kept=[convert.kept_subnet(k) for k in deletion.kept],
        )


class GcServicer(rpc.GcServiceServicer):
    def __init__(self, engine: Engine, settings: GcSettings, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.grace = settings.grace_seconds
        self.duty = settings.duty
        self.metrics = metrics

    def RunGc(self, request: pb.RunGcRequest, context: Ctx) -> pb.RunGcResponse:
        # 0 (or no grace at all) means the server's --gc-grace, as the proto says.
        grace = convert.seconds_of("grace", request.grace) or self.grace
        report = gc.run_gc(
            self.engine,
            dry_run=request.dry_run,
            grace_seconds=grace,
            host=request.host,
            max_items=request.max_items or gc.MAX_ITEMS,
            duty=request.duty or self.duty,
        )
        if self.metrics is not None:
            self.metrics.observe_gc(report)
        return convert.gc_report(report)

    def ReconcileHost(self, request: pb.ReconcileHostRequest, context: Ctx) -> pb.ReconcileHostResponse:
        require_host(request.host, f'release leases of host "{request.host}"')
        keep = [(key.owner_id, key.interface) for key in request.keep]
        released = gc.reconcile_host(
            self.engine, request.host, dict(request.match_attributes), keep, request.detail, request.min_age_seconds
        )
        if self.metrics is not None:
            self.metrics.observe_released(released)
        return pb.ReconcileHostResponse(released=[convert.gc_item(item) for item in released])

    def ListGcRecords(self, request: pb.ListGcRecordsRequest, context: Ctx) -> pb.ListGcRecordsResponse:
        reason = convert.gc_reason(request.reason)
        page = gc.history(self.engine, request.host, reason, request.page_size, request.page_token)
        return pb.ListGcRecordsResponse(
            records=[convert.gc_record(row) for row in page.items], next_page_token=page.next_token
        )


class SubnetServicer(rpc.SubnetServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def AcquireSubnet(self, request: pb.AcquireSubnetRequest, context: Ctx) -> pb.HostSubnet:
        require_host(request.host, f'acquire subnets for host "{request.host}"')
        family = convert.family("family", request.family)
        record = subnets.acquire_subnet(self.engine, request.host, request.pool, request.space, family)
        return convert.subnet(record)

    def ReleaseSubnet(self, request: pb.ReleaseSubnetRequest, context: Ctx) -> pb.ReleaseSubnetResponse:
        release = subnets.release_subnet(self.engine, request.cidr, request.space, request.force)
        kept = None if release.kept is None else convert.kept_subnet(release.kept)
        return pb.ReleaseSubnetResponse(kept=kept, released=release.released)

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
                    single_subnet=a.single_subnet,
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


class DockerNetworkServicer(rpc.DockerNetworkServiceServicer):
    def __init__(self, engine: Engine, metrics: Metrics | None = None) -> None:
        self.engine = engine
        self.metrics = metrics

    def RequestNetworkPool(self, request: pb.RequestNetworkPoolRequest, context: Ctx) -> pb.NetworkPool:
        require_host(request.host, f'use a Docker network for host "{request.host}"')
        command = networks.PoolRequest(
            host=request.host,
            space=request.space,
            subnet=request.subnet,
            ip_range=request.ip_range,
            options=dict(request.options),
            v6=request.v6,
            replay=request.replay,
        )
        result = networks.request_pool(self.engine, command)
        return pb.NetworkPool(pool_id=result.pool_id, cidr=result.cidr)

    def ReleaseNetworkPool(self, request: pb.ReleaseNetworkPoolRequest, context: Ctx) -> pb.ReleaseNetworkPoolResponse:
        require_host(request.host, f'leave a Docker network for host "{request.host}"')
        networks.release_pool(self.engine, request.host, request.pool_id)
        return pb.ReleaseNetworkPoolResponse()

    def RequestNetworkAddress(self, request: pb.RequestNetworkAddressRequest, context: Ctx) -> pb.NetworkAddress:
        require_host(request.host, f'lease a Docker network address for host "{request.host}"')
        command = networks.AddressRequest(
            host=request.host,
            pool_id=request.pool_id,
            address=request.address,
            role=convert.network_address_role(request.role),
            mac=request.mac_address,
        )
        return pb.NetworkAddress(address_cidr=networks.request_address(self.engine, command))

    def ReleaseNetworkAddress(
        self, request: pb.ReleaseNetworkAddressRequest, context: Ctx
    ) -> pb.ReleaseNetworkAddressResponse:
        require_host(request.host, f'release a Docker network address for host "{request.host}"')
        networks.release_address(self.engine, request.host, request.pool_id, request.address)
        return pb.ReleaseNetworkAddressResponse()

    def ReconcileNetworks(self, request: pb.ReconcileNetworksRequest, context: Ctx) -> pb.ReconcileNetworksResponse:
        require_host(request.host, f'reconcile the Docker networks of host "{request.host}"')
        in_use = [(list(n.subnets), list(n.addresses)) for n in request.networks]
        released = gc.reconcile_docker_networks(
            self.engine, request.host, request.space, in_use, request.min_age_seconds
        )
        if self.metrics is not None:
            self.metrics.observe_released(released)
        return pb.ReconcileNetworksResponse(released=[convert.gc_item(item) for item in released])


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
