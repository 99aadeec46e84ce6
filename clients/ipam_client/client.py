"""``IpamClient``: typed methods over the IPAM gRPC services, with timeouts and retries.

Every call goes through :meth:`IpamClient._call`: a per-attempt deadline of ``timeout`` seconds,
retries of UNAVAILABLE and CANCELLED (and, for reads, DEADLINE_EXCEEDED) with exponential backoff and jitter,
and gRPC errors converted to :mod:`ipam_client.errors` classes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

import grpc

from ipam_client._channel import auth_metadata, open_channel, replica_targets, resolve_server, resolve_token, tls_hint
from ipam_client._pb.ipam.v1 import ipam_pb2, ipam_pb2_grpc, registry_pb2, registry_pb2_grpc
from ipam_client._retry import DEFAULT_BACKOFF, RETRY_ALWAYS, RETRY_READS, RETRY_WATCH, call_with_retries
from ipam_client.errors import from_rpc_error, status_of
from ipam_client.specs import AddressSpec, address_requests

R = TypeVar("R")
T = TypeVar("T")


class _PagedRequest(Protocol):
    page_token: str


class _Page(Protocol):
    next_page_token: str


P = TypeVar("P", bound=_Page)
PathLike = str | os.PathLike[str]


class IpamClient:
    """A connection to an IPAM server.

    ``server`` defaults to ``$IPAM_SERVER``, then ``127.0.0.1:50051``; ``token`` to
    ``$IPAM_TOKEN`` (sent as ``authorization: Bearer <token>``). ``timeout`` bounds each attempt
    of each call, in seconds. ``retries`` is how many times a call is retried after UNAVAILABLE or CANCELLED
    (reads also after DEADLINE_EXCEEDED). TLS is used when ``tls`` is true or a certificate file
    is given. ``channel_options`` are extra gRPC channel arguments (e.g.
    ``("grpc.max_reconnect_backoff_ms", 5000)``). Use as a context manager or call :meth:`close`.

    Creates (spaces, pools) are retried on UNAVAILABLE too: if the first attempt did commit
    before the connection failed, the retry reports ``AlreadyExists``.
    """

    def __init__(
        self,
        server: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 5,
        tls: bool = False,
        ca_file: PathLike | None = None,
        cert_file: PathLike | None = None,
        key_file: PathLike | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if retries < 0:
            raise ValueError(f"retries must not be negative, got {retries}")
        self.server = resolve_server(server)
        self.timeout = timeout
        self.retries = retries
        self._metadata = auth_metadata(resolve_token(token))
        self._open_channel = partial(
            open_channel, tls=tls, ca_file=ca_file, cert_file=cert_file, key_file=key_file, options=channel_options
        )
        self._channel = self._open_channel(self.server)
        # A watch moves from replica to replica itself: a channel picks one address and stays
        # there while it answers (pick_first), also when it refuses the stream.
        self._replicas = replica_targets(self.server)
        self._watch_channels: dict[int, grpc.Channel] = {}
        self._watch_channels_lock = threading.Lock()
        self._tls_hint = tls_hint(tls or ca_file is not None, cert_file is not None)
        self._spaces = ipam_pb2_grpc.AddressSpaceServiceStub(self._channel)
        self._pools = ipam_pb2_grpc.PoolServiceStub(self._channel)
        self._hosts = ipam_pb2_grpc.HostServiceStub(self._channel)
        self._subnets = ipam_pb2_grpc.SubnetServiceStub(self._channel)
        self._leases = ipam_pb2_grpc.LeaseServiceStub(self._channel)
        self._gc = ipam_pb2_grpc.GcServiceStub(self._channel)
        self._networks = ipam_pb2_grpc.DockerNetworkServiceStub(self._channel)
        self._tokens = ipam_pb2_grpc.TokenServiceStub(self._channel)
        self._endpoints = registry_pb2_grpc.EndpointServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()
        for channel in self._watch_channels.values():
            channel.close()

    def __enter__(self) -> IpamClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IpamClient(server={self.server!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, rpc: Callable[..., R], request: Any, *, read: bool = False) -> R:
        """One RPC with deadline, retries and error conversion (the only place that calls a stub)."""

        def attempt() -> R:
            return rpc(request, timeout=self.timeout, metadata=self._metadata)

        try:
            return call_with_retries(attempt, retries=self.retries, retry_on=RETRY_READS if read else RETRY_ALWAYS)
        except grpc.RpcError as err:
            raise from_rpc_error(err, self.server, self._tls_hint) from err

    def _pages(self, rpc: Callable[..., P], request: _PagedRequest, items: Callable[[P], Iterable[T]]) -> Iterator[T]:
        """The items of every page of a List call, fetching each page when it is reached."""
        while True:
            page = self._call(rpc, request, read=True)
            yield from items(page)
            if not page.next_page_token:
                return
            request.page_token = page.next_page_token

    # -- address spaces ---------------------------------------------------------------------

    def create_address_space(self, name: str, description: str = "") -> ipam_pb2.AddressSpace:
        request = ipam_pb2.CreateAddressSpaceRequest(name=name, description=description)
        return self._call(self._spaces.CreateAddressSpace, request)

    def iter_address_spaces(self, *, page_size: int = 0) -> Iterator[ipam_pb2.AddressSpace]:
        """Address spaces, fetching the next page only when it is reached."""
        request = ipam_pb2.ListAddressSpacesRequest(page_size=page_size)
        return self._pages(self._spaces.ListAddressSpaces, request, lambda r: r.address_spaces)

    def list_address_spaces(self, *, page_size: int = 0) -> list[ipam_pb2.AddressSpace]:
        return list(self.iter_address_spaces(page_size=page_size))

    def delete_address_space(self, name: str) -> None:
        self._call(self._spaces.DeleteAddressSpace, ipam_pb2.DeleteAddressSpaceRequest(name=name))

    # -- pools ------------------------------------------------------------------------------

    def create_pool(
        self,
        name: str,
        cidr: str,
        host_prefix_length: int,
        *,
        space: str = "",
        reserved_cidrs: Iterable[str] = (),
        host_selector: str = "",
        disabled: bool = False,
        cooldown_seconds: int = 0,
        max_subnets_per_host: int = 0,
        gateway_policy: int = ipam_pb2.GATEWAY_POLICY_UNSPECIFIED,
    ) -> ipam_pb2.Pool:
        request = ipam_pb2.CreatePoolRequest(
            name=name,
            space=space,
            cidr=cidr,
            host_prefix_length=host_prefix_length,
            reserved_cidrs=list(reserved_cidrs),
            host_selector=host_selector,
            disabled=disabled,
            cooldown_seconds=cooldown_seconds,
            max_subnets_per_host=max_subnets_per_host,
            gateway_policy=cast("ipam_pb2.GatewayPolicy", gateway_policy),
        )
        return self._call(self._pools.CreatePool, request)

    def get_pool(self, name: str) -> ipam_pb2.Pool:
        return self._call(self._pools.GetPool, ipam_pb2.GetPoolRequest(name=name), read=True)

    def iter_pools(self, space: str = "", *, page_size: int = 0) -> Iterator[ipam_pb2.Pool]:
        """Pools, optionally of one address space, fetching the next page only when it is reached."""
        request = ipam_pb2.ListPoolsRequest(space=space, page_size=page_size)
        return self._pages(self._pools.ListPools, request, lambda r: r.pools)

    def list_pools(self, space: str = "", *, page_size: int = 0) -> list[ipam_pb2.Pool]:
        return list(self.iter_pools(space, page_size=page_size))

    def update_pool(
        self,
        name: str,
        *,
        disabled: bool | None = None,
        cooldown_seconds: int | None = None,
        max_subnets_per_host: int | None = None,
        host_selector: str | None = None,
        reserved_cidrs: Iterable[str] | None = None,
    ) -> ipam_pb2.Pool:
        """Change the given fields; ``None`` leaves a field as it is (``reserved_cidrs=[]`` clears)."""
        request = ipam_pb2.UpdatePoolRequest(name=name)
        if disabled is not None:
            request.disabled = disabled
        if cooldown_seconds is not None:
            request.cooldown_seconds = cooldown_seconds
        if max_subnets_per_host is not None:
            request.max_subnets_per_host = max_subnets_per_host
        if host_selector is not None:
            request.host_selector = host_selector
        if reserved_cidrs is not None:
            request.set_reserved_cidrs = True
            request.reserved_cidrs.extend(reserved_cidrs)
        return self._call(self._pools.UpdatePool, request)

    def delete_pool(self, name: str, force: bool = False) -> None:
        """Delete a pool; with active leases this fails (FailedPrecondition) unless ``force``."""
        self._call(self._pools.DeletePool, ipam_pb2.DeletePoolRequest(name=name, force=force))

    # -- hosts ------------------------------------------------------------------------------

    def register_host(
        self, name: str, labels: Mapping[str, str] | None = None, *, heartbeat_ttl_seconds: int = 0
    ) -> ipam_pb2.Host:
        """Create the host or, when it exists, replace its labels and mark it seen (a heartbeat:
        the host counts as alive for ``heartbeat_ttl_seconds``, 0 = the server's default)."""
        request = ipam_pb2.RegisterHostRequest(
            name=name, labels=dict(labels or {}), heartbeat_ttl_seconds=heartbeat_ttl_seconds
        )
        return self._call(self._hosts.RegisterHost, request)

    def drain_host(self, name: str) -> ipam_pb2.Host:
        """No new allocations to the host; what it holds stays."""
        return self._call(self._hosts.DrainHost, ipam_pb2.DrainHostRequest(name=name))

    def undrain_host(self, name: str) -> ipam_pb2.Host:
        return self._call(self._hosts.UndrainHost, ipam_pb2.UndrainHostRequest(name=name))

    def delete_host(self, name: str) -> ipam_pb2.DeleteHostResponse:
        """Release everything a drained or dead host holds and forget it."""
        return self._call(self._hosts.DeleteHost, ipam_pb2.DeleteHostRequest(name=name))

    def get_host(self, name: str) -> ipam_pb2.Host:
        return self._call(self._hosts.GetHost, ipam_pb2.GetHostRequest(name=name), read=True)

    def iter_hosts(self, *, page_size: int = 0) -> Iterator[ipam_pb2.Host]:
        """Hosts, fetching the next page only when it is reached."""
        request = ipam_pb2.ListHostsRequest(page_size=page_size)
        return self._pages(self._hosts.ListHosts, request, lambda r: r.hosts)

    def list_hosts(self, *, page_size: int = 0) -> list[ipam_pb2.Host]:
        return list(self.iter_hosts(page_size=page_size))

    # -- host subnets -----------------------------------------------------------------------

    def acquire_subnet(self, host: str, pool: str = "", *, space: str = "", family: int = 0) -> ipam_pb2.HostSubnet:
        """The host's subnet in ``pool`` while it has room, else a new one (idempotent).

        With ``pool`` "", the first enabled pool of ``space`` matching the host's labels,
        optionally restricted to ``family`` (4 or 6).
        """
        request = ipam_pb2.AcquireSubnetRequest(
            host=host, pool=pool, space=space, family=cast("ipam_pb2.Family", family)
        )
        return self._call(self._subnets.AcquireSubnet, request)

    def release_subnet(self, cidr: str, *, space: str = "", force: bool = False) -> ipam_pb2.ReleaseSubnetResponse:
        """Release a host subnet; with `force` even when it holds leases, but other hosts' leases in
        it are never released: then the subnet stays (the reply's `kept`)."""
        request = ipam_pb2.ReleaseSubnetRequest(cidr=cidr, space=space, force=force)
        return self._call(self._subnets.ReleaseSubnet, request)

    def iter_subnets(
        self, pool: str = "", host: str = "", *, address: str = "", space: str = "", page_size: int = 0
    ) -> Iterator[ipam_pb2.HostSubnet]:
        """Host subnets, optionally of one pool or host, or the one holding `address` (in `space`),
        fetching the next page only when it is reached."""
        request = ipam_pb2.ListSubnetsRequest(pool=pool, host=host, address=address, space=space, page_size=page_size)
        return self._pages(self._subnets.ListSubnets, request, lambda r: r.subnets)

    def list_subnets(
        self, pool: str = "", host: str = "", *, address: str = "", space: str = "", page_size: int = 0
    ) -> list[ipam_pb2.HostSubnet]:
        """Host subnets, optionally of one pool or host, or the one holding `address` (in `space`)."""
        return list(self.iter_subnets(pool, host, address=address, space=space, page_size=page_size))

    # -- leases -----------------------------------------------------------------------------

    def allocate(
        self,
        host: str,
        owner_id: str,
        interface: str,
        requests: Iterable[ipam_pb2.AddressRequest | AddressSpec],
        attributes: Mapping[str, str] | None = None,
    ) -> ipam_pb2.AllocateResponse:
        """Allocate one address per request (all or none) for the owner key (owner_id, interface).

        Retrying is safe: the server returns the leases the owner key already holds instead of
        allocating again (``already_allocated`` is then true). So an UNAVAILABLE reply, even one
        that hides a commit whose answer was lost, is retried with the same owner key and yields
        the same addresses. A DEADLINE_EXCEEDED is not retried here (the call may still be
        running); calling ``allocate`` again with the same owner key is safe for the same reason.
        """
        request = ipam_pb2.AllocateRequest(
            host=host,
            owner_id=owner_id,
            interface=interface,
            attributes=dict(attributes or {}),
            addresses=address_requests(requests),
        )
        return self._call(self._leases.Allocate, request)

    def release_owner(self, owner_id: str, interface: str) -> ipam_pb2.ReleaseResponse:
        """Release every active lease of the owner key; already released is a success."""
        owner = ipam_pb2.OwnerKey(owner_id=owner_id, interface=interface)
        return self._call(self._leases.Release, ipam_pb2.ReleaseRequest(owner=owner))

    def release_address(self, address: str, space: str = "") -> ipam_pb2.ReleaseResponse:
        """Release the lease holding ``address``; already released is a success."""
        key = ipam_pb2.AddressKey(address=address, space=space)
        return self._call(self._leases.Release, ipam_pb2.ReleaseRequest(address=key))

    def get_lease(self, address: str, space: str = "") -> ipam_pb2.Lease:
        """The lease holding ``address``, else its last released lease."""
        request = ipam_pb2.GetLeaseRequest(address=address, space=space)
        return self._call(self._leases.GetLease, request, read=True)

    def iter_leases(
        self,
        pool: str = "",
        host: str = "",
        owner_id: str = "",
        interface: str = "",
        state: int = ipam_pb2.LEASE_STATE_UNSPECIFIED,
        *,
        page_size: int = 0,
    ) -> Iterator[ipam_pb2.Lease]:
        """Leases matching the filters, fetching the next page only when it is reached."""
        request = ipam_pb2.ListLeasesRequest(
            pool=pool,
            host=host,
            owner_id=owner_id,
            interface=interface,
            state=cast("ipam_pb2.LeaseState", state),
            page_size=page_size,
        )
        return self._pages(self._leases.ListLeases, request, lambda r: r.leases)

    def list_leases(
        self,
        pool: str = "",
        host: str = "",
        owner_id: str = "",
        interface: str = "",
        state: int = ipam_pb2.LEASE_STATE_UNSPECIFIED,
        *,
        page_size: int = 0,
    ) -> list[ipam_pb2.Lease]:
        return list(self.iter_leases(pool, host, owner_id, interface, state, page_size=page_size))

    # -- garbage collection -----------------------------------------------------------------

    def run_gc(
        self,
        *,
        dry_run: bool = False,
        grace_seconds: int | None = None,
        host: str = "",
        max_items: int = 0,
        duty: float = 0.0,
    ) -> ipam_pb2.RunGcResponse:
        """One garbage collection now (``grace_seconds`` None: the server's grace period; ``duty``
        0: the server's --gc-duty)."""
        request = ipam_pb2.RunGcRequest(dry_run=dry_run, host=host, max_items=max_items, duty=duty)
        if grace_seconds is not None:
            request.grace.FromSeconds(grace_seconds)
        return self._call(self._gc.RunGc, request)

    def reconcile_host(
        self,
        host: str,
        keep: Iterable[tuple[str, str]],
        *,
        match_attributes: Mapping[str, str] | None = None,
        detail: str = "",
        min_age_seconds: int = 0,
    ) -> ipam_pb2.ReconcileHostResponse:
        """Release the host's active leases (with ``match_attributes``) whose owner key
        (owner id, interface) is not in ``keep``, and which are at least ``min_age_seconds`` old."""
        request = ipam_pb2.ReconcileHostRequest(
            host=host,
            match_attributes=dict(match_attributes or {}),
            keep=[ipam_pb2.OwnerKey(owner_id=owner, interface=interface) for owner, interface in keep],
            detail=detail,
            min_age_seconds=min_age_seconds,
        )
        return self._call(self._gc.ReconcileHost, request)

    def iter_gc_records(
        self, host: str = "", reason: int = ipam_pb2.GC_REASON_UNSPECIFIED, *, page_size: int = 0
    ) -> Iterator[ipam_pb2.GcRecord]:
        """What garbage collection reclaimed, newest first."""
        request = ipam_pb2.ListGcRecordsRequest(
            host=host, reason=cast("ipam_pb2.GcReason", reason), page_size=page_size
        )
        return self._pages(self._gc.ListGcRecords, request, lambda r: r.records)

    # -- Docker networks --------------------------------------------------------------------
    # Every call is idempotent (dockerd replays them after a restart), so all are retried.

    def request_network_pool(
        self,
        host: str,
        *,
        space: str = "",
        subnet: str = "",
        ip_range: str = "",
        options: Mapping[str, str] | None = None,
        v6: bool = False,
        replay: bool = False,
    ) -> ipam_pb2.NetworkPool:
        """Register ``subnet`` as a Docker network (or join it), or carve a free one from a pool.

        A subnet the host is already a member of is ALREADY_EXISTS unless ``replay`` (dockerd
        asking again after its restart)."""
        request = ipam_pb2.RequestNetworkPoolRequest(
            host=host,
            space=space,
            subnet=subnet,
            ip_range=ip_range,
            options=dict(options or {}),
            v6=v6,
            replay=replay,
        )
        return self._call(self._networks.RequestNetworkPool, request)

    def release_network_pool(self, host: str, pool_id: str) -> None:
        request = ipam_pb2.ReleaseNetworkPoolRequest(host=host, pool_id=pool_id)
        self._call(self._networks.ReleaseNetworkPool, request)

    def request_network_address(
        self, host: str, pool_id: str, address: str = "", *, role: int, mac_address: str = ""
    ) -> ipam_pb2.NetworkAddress:
        """Lease ``address`` ("" = any free one) of the network for ``role`` (a NetworkAddressRole)."""
        request = ipam_pb2.RequestNetworkAddressRequest(
            host=host,
            pool_id=pool_id,
            address=address,
            role=cast("ipam_pb2.NetworkAddressRole", role),
            mac_address=mac_address,
        )
        return self._call(self._networks.RequestNetworkAddress, request)

    def release_network_address(self, host: str, pool_id: str, address: str) -> None:
        request = ipam_pb2.ReleaseNetworkAddressRequest(host=host, pool_id=pool_id, address=address)
        self._call(self._networks.ReleaseNetworkAddress, request)

    def reconcile_networks(
        self,
        host: str,
        networks: Iterable[tuple[Iterable[str], Iterable[str]]],
        *,
        space: str = "",
        min_age_seconds: int = 0,
    ) -> ipam_pb2.ReconcileNetworksResponse:
        """Release what the host's dockerd no longer uses, given its networks of this driver as
        (subnets, container addresses): the host leaves unlisted networks, unlisted container
        addresses go. Nothing younger than ``min_age_seconds`` (0: the server's 60 s)."""
        request = ipam_pb2.ReconcileNetworksRequest(
            host=host,
            space=space,
            networks=[
                ipam_pb2.NetworkInUse(subnets=list(subnets), addresses=list(addresses))
                for subnets, addresses in networks
            ],
            min_age_seconds=min_age_seconds,
        )
        return self._call(self._networks.ReconcileNetworks, request)

    # -- API tokens (admin) -----------------------------------------------------------------

    def create_token(
        self, name: str, role: str, *, host: str = "", ttl_seconds: int = 0
    ) -> ipam_pb2.CreateTokenResponse:
        """A new token; its ``secret`` (the whole token text) is returned this once only."""
        request = ipam_pb2.CreateTokenRequest(name=name, role=role, host=host, ttl_seconds=ttl_seconds)
        return self._call(self._tokens.CreateToken, request)

    def iter_tokens(self, *, include_revoked: bool = False, page_size: int = 0) -> Iterator[ipam_pb2.ApiToken]:
        request = ipam_pb2.ListTokensRequest(include_revoked=include_revoked, page_size=page_size)
        return self._pages(self._tokens.ListTokens, request, lambda r: r.tokens)

    def revoke_token(self, name: str) -> ipam_pb2.ApiToken:
        """Revoke the token with this name or id (revoking twice is fine)."""
        return self._call(self._tokens.RevokeToken, ipam_pb2.RevokeTokenRequest(name=name))

    # -- endpoint registry ------------------------------------------------------------------

    def register_endpoint(
        self,
        host: str,
        owner_id: str,
        interface: str,
        *,
        network: str = "",
        mac: str = "",
        labels: Mapping[str, str] | None = None,
    ) -> registry_pb2.Endpoint:
        """Create the live endpoint of (owner_id, interface) on ``host``, or merge into it."""
        request = registry_pb2.RegisterEndpointRequest(
            host=host, owner_id=owner_id, interface=interface, network=network, mac=mac, labels=dict(labels or {})
        )
        return self._call(self._endpoints.RegisterEndpoint, request)

    def update_endpoint_labels(
        self,
        owner_id: str,
        interface: str,
        labels: Mapping[str, str] | None = None,
        *,
        remove: Sequence[str] = (),
        replace: bool = False,
    ) -> registry_pb2.Endpoint:
        """Set (or with ``replace``, replace all) labels of a live endpoint, removing ``remove``."""
        request = registry_pb2.UpdateEndpointLabelsRequest(
            owner_id=owner_id,
            interface=interface,
            labels=dict(labels or {}),
            remove_labels=list(remove),
            replace=replace,
        )
        return self._call(self._endpoints.UpdateEndpointLabels, request)

    def get_endpoint(self, owner_id: str = "", interface: str = "", *, id: int = 0) -> registry_pb2.Endpoint:
        """The live endpoint of an owner key, or any endpoint (also a deleted one) by ``id``."""
        request = registry_pb2.GetEndpointRequest(owner_id=owner_id, interface=interface, id=id)
        return self._call(self._endpoints.GetEndpoint, request, read=True)

    def iter_endpoints(
        self,
        host: str = "",
        network: str = "",
        pool: str = "",
        label_selector: str = "",
        state: int = registry_pb2.ENDPOINT_STATE_UNSPECIFIED,
        *,
        page_size: int = 0,
    ) -> Iterator[registry_pb2.Endpoint]:
        """Endpoints matching the filters (``label_selector`` like ``"app=web,tier!=db"``)."""
        request = registry_pb2.ListEndpointsRequest(
            host=host,
            network=network,
            pool=pool,
            label_selector=label_selector,
            state=cast("registry_pb2.EndpointState", state),
            page_size=page_size,
        )
        return self._pages(self._endpoints.ListEndpoints, request, lambda r: r.endpoints)

    def list_endpoints_page(self, request: registry_pb2.ListEndpointsRequest) -> registry_pb2.ListEndpointsResponse:
        """One page, with the revision it reflects (to watch from)."""
        return self._call(self._endpoints.ListEndpoints, request, read=True)

    def lookup_address(
        self, address: str, space: str = "", at: datetime | None = None
    ) -> registry_pb2.LookupAddressResponse:
        """The endpoint that held ``address`` at ``at`` (default: now), and from when until when."""
        request = registry_pb2.LookupAddressRequest(address=address, space=space)
        if at is not None:
            request.at.FromDatetime(at if at.tzinfo else at.astimezone())
        return self._call(self._endpoints.LookupAddress, request, read=True)

    def watch_endpoints(
        self,
        since_revision: int | None = None,
        *,
        host: str = "",
        network: str = "",
        pool: str = "",
        label_selector: str = "",
    ) -> Iterator[registry_pb2.EndpointEvent]:
        """Every endpoint change after ``since_revision`` (None: from now on), in revision order,
        forever. With filters (as ``iter_endpoints``), only the changes of the endpoints they
        select, as a list with those filters (state active) would change: ADDED when one starts
        to match, REMOVED when one stops (or is deleted), UPDATED while it still matches.
        When the stream fails (UNAVAILABLE: a lost connection or a stopping server;
        RESOURCE_EXHAUSTED: the server holds all the streams it may; CANCELLED), the watch resumes
        (with the same filters) from the last revision received on the next replica of the target
        (``ipv4:A,B``: A, then B, then A ...) after a jittered exponential backoff (0.025-0.05 s
        doubling up to 1-2 s, reset once a stream delivers again), so nothing is missed or repeated.
        After ``retries`` failures in a row per replica, and on OUT_OF_RANGE (changes pruned) or
        any other error, it raises."""
        filters = {"host": host, "network": network, "pool": pool, "label_selector": label_selector}
        cursor = since_revision
        if cursor is None:  # a concrete starting point, so that a reconnect misses nothing
            cursor = self.list_endpoints_page(registry_pb2.ListEndpointsRequest(page_size=1)).revision
        replica = failures = 0
        while True:  # each stream, also one resumed on another replica, with the same filters
            stub = registry_pb2_grpc.EndpointServiceStub(self._watch_channel(replica))
            stream = stub.WatchEndpoints(
                registry_pb2.WatchEndpointsRequest(since_revision=cursor, **filters), metadata=self._metadata
            )
            try:
                for batch in stream:
                    failures = 0
                    for event in batch.events:
                        cursor = event.revision
                        yield event
                return
            except grpc.RpcError as err:
                code, _ = status_of(err)
                if code not in RETRY_WATCH or failures >= self.retries * len(self._replicas):
                    raise from_rpc_error(err, self.server, self._tls_hint) from err
            finally:
                stream.cancel()
            time.sleep(DEFAULT_BACKOFF.delay(failures))
            failures += 1
            replica = (replica + 1) % len(self._replicas)

    def _watch_channel(self, replica: int) -> grpc.Channel:
        """The channel to replica number ``replica`` of the target (the client's own if it names one)."""
        if len(self._replicas) == 1:
            return self._channel
        with self._watch_channels_lock:
            if replica not in self._watch_channels:
                self._watch_channels[replica] = self._open_channel(self._replicas[replica])
            return self._watch_channels[replica]
