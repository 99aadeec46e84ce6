"""Issue 16's hostile requests, each sent as found, over real gRPC to a real server and database:
every one gets the status it deserves (never INTERNAL) and a message that names the problem
without quoting the whole bad value.

Every call carries a deadline (CALL_SECONDS): a request that made the server work for minutes
fails with DEADLINE_EXCEEDED instead of passing.
"""

from __future__ import annotations

import base64
import json

import grpc
import pytest
from api_checks import count, fails
from google.protobuf.duration_pb2 import Duration
from sqlalchemy import Engine, text

from ipam.domain.errors import InvalidArgument as DomainInvalidArgument
from ipam.store import tx
from ipam_client import AddressSpec, FailedPrecondition, InvalidArgument, IpamClient, pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc
from ipam_client._pb.ipam.v1 import registry_pb2 as rpb
from ipam_client._pb.ipam.v1 import registry_pb2_grpc as rrpc

CALL_SECONDS = 30
AUX = pb.NETWORK_ADDRESS_ROLE_AUX
CONTAINER = pb.NETWORK_ADDRESS_ROLE_CONTAINER


def token(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode()


@pytest.fixture
def setup(client: IpamClient) -> str:
    """Pool "p" (10.80.0.0/16 in /24s), hosts "h1" and "h2", a lease of h1, and a Docker network
    h1 joined; its pool id."""
    client.create_pool("p", "10.80.0.0/16", 24)
    client.create_pool("dv", "10.90.0.0/16", 24)
    client.register_host("h1")
    client.register_host("h2")
    client.allocate("h1", "c1", "eth0", [AddressSpec(pool="p")])
    return client.request_network_pool("h1", subnet="10.90.1.0/24").pool_id


# --- finding 1: NUL bytes -----------------------------------------------------------------------


def test_nul_bytes_in_lookups_and_filters_are_invalid(channel: grpc.Channel, setup: str) -> None:
    tokens = rpc.TokenServiceStub(channel)
    leases = rpc.LeaseServiceStub(channel)
    hosts = rpc.HostServiceStub(channel)
    with fails(InvalidArgument, "name:", "NUL byte"):
        tokens.RevokeToken(pb.RevokeTokenRequest(name="\x00"), timeout=CALL_SECONDS)
    with fails(InvalidArgument, "owner_id:", "NUL byte"):
        leases.ListLeases(pb.ListLeasesRequest(owner_id="a\x00b"), timeout=CALL_SECONDS)
    with fails(InvalidArgument, "space:", "NUL byte"):
        leases.GetLease(pb.GetLeaseRequest(address="::ffff:10.80.0.2", space="a\x00"), timeout=CALL_SECONDS)
    with fails(InvalidArgument, "page_token:", "is not a page token returned by a ListHosts call"):
        hosts.ListHosts(pb.ListHostsRequest(page_token=token('{"k":"Hosts","a":"\\u0000"}')), timeout=CALL_SECONDS)


def test_nul_bytes_in_map_keys_and_nested_messages_are_invalid(channel: grpc.Channel, setup: str) -> None:
    hosts = rpc.HostServiceStub(channel)
    leases = rpc.LeaseServiceStub(channel)
    with fails(InvalidArgument, "labels key:", "NUL byte"):
        hosts.RegisterHost(pb.RegisterHostRequest(name="h3", labels={"a\x00": "b"}), timeout=CALL_SECONDS)
    bad_pool = [pb.AddressRequest(pool="p\x00")]
    request = pb.AllocateRequest(host="h1", owner_id="c2", interface="eth0", addresses=bad_pool)
    with fails(InvalidArgument, "addresses[0].pool:", "NUL byte"):
        leases.Allocate(request, timeout=CALL_SECONDS)


def test_a_value_postgresql_refuses_is_invalid_argument_whatever_the_query(engine: Engine) -> None:
    """The net under every call: a data error (SQLSTATE class 22) that got past validation."""
    with pytest.raises(DomainInvalidArgument, match="not valid: invalid input syntax for type inet"):
        tx.run(engine, lambda conn: conn.execute(text("SELECT CAST('not an address' AS inet)")).scalar())
    with pytest.raises(DomainInvalidArgument, match="NUL"):
        tx.run(engine, lambda conn: conn.execute(text("SELECT :v"), {"v": "a\x00"}).scalar())


# --- finding 2: the MAC of a Docker address ------------------------------------------------------


def test_a_docker_address_mac_is_validated(channel: grpc.Channel, setup: str) -> None:
    networks = rpc.DockerNetworkServiceStub(channel)
    request = pb.RequestNetworkAddressRequest(host="h1", pool_id=setup, role=AUX, mac_address="a\x00b")
    with fails(InvalidArgument, "mac_address:", "NUL byte"):
        networks.RequestNetworkAddress(request, timeout=CALL_SECONDS)
    request.mac_address = "02:42:zz:11:00:02"
    with fails(InvalidArgument, "mac_address: '02:42:zz:11:00:02' is not a MAC address"):
        networks.RequestNetworkAddress(request, timeout=CALL_SECONDS)
    request.role, request.mac_address = CONTAINER, "02-42-AC-11-00-02"
    assert networks.RequestNetworkAddress(request, timeout=CALL_SECONDS).address_cidr.endswith("/24")


# --- findings 3 and 4: page tokens ---------------------------------------------------------------

HUGE_KEY = "eyJrIjogIkdjUmVjb3JkcyIsICJhIjogOTIyMzM3MjAzNjg1NDc3NTgwOH0="  # {"k": "GcRecords", "a": 2**63}


def test_page_token_keys_past_64_bits_are_invalid(channel: grpc.Channel, setup: str) -> None:
    assert json.loads(base64.urlsafe_b64decode(HUGE_KEY)) == {"k": "GcRecords", "a": 2**63}
    gc = rpc.GcServiceStub(channel)
    with fails(InvalidArgument, "page_token:", "ListGcRecords"):
        gc.ListGcRecords(pb.ListGcRecordsRequest(page_token=HUGE_KEY), timeout=CALL_SECONDS)
    calls = [
        (rpc.LeaseServiceStub(channel).ListLeases, pb.ListLeasesRequest, "Leases"),
        (rpc.SubnetServiceStub(channel).ListSubnets, pb.ListSubnetsRequest, "Subnets"),
        (rrpc.EndpointServiceStub(channel).ListEndpoints, rpb.ListEndpointsRequest, "Endpoints"),
    ]
    for call, request, kind in calls:
        for key in (2**63, -(2**63) - 1):
            with fails(InvalidArgument, "page_token:", f"List{kind} call"):
                call(request(page_token=token(json.dumps({"k": kind, "a": key}))), timeout=CALL_SECONDS)


def test_deeply_nested_or_long_page_tokens_are_invalid(channel: grpc.Channel, setup: str) -> None:
    nested = token("[" * 100000)
    calls = [
        (rpc.TokenServiceStub(channel).ListTokens, pb.ListTokensRequest),
        (rpc.PoolServiceStub(channel).ListPools, pb.ListPoolsRequest),
        (rpc.HostServiceStub(channel).ListHosts, pb.ListHostsRequest),
        (rpc.LeaseServiceStub(channel).ListLeases, pb.ListLeasesRequest),
        (rpc.AddressSpaceServiceStub(channel).ListAddressSpaces, pb.ListAddressSpacesRequest),
    ]
    for call, request in calls:
        with fails(InvalidArgument, "page_token: 133336 characters, more than the limit of 4096"):
            call(request(page_token=nested), timeout=CALL_SECONDS)
        with fails(InvalidArgument, "page_token: 'W1tbW1tbW1tb", "(4000 characters) is not a page token"):
            call(request(page_token=nested[:4000]), timeout=CALL_SECONDS)
        # Short enough to decode, and nested deeper than anything we make.
        with fails(InvalidArgument, "page_token:", "is not a page token"):
            call(request(page_token=token("[" * 380)), timeout=CALL_SECONDS)


# --- finding 5: durations ------------------------------------------------------------------------


def test_a_grace_that_is_no_duration_is_invalid(channel: grpc.Channel, setup: str) -> None:
    gc = rpc.GcServiceStub(channel)
    request = pb.RunGcRequest(dry_run=True, grace=Duration(seconds=9223372036854775807, nanos=1000000000))
    with fails(InvalidArgument, "grace: seconds=9223372036854775807, nanos=1000000000 is not a valid Duration"):
        gc.RunGc(request, timeout=CALL_SECONDS)
    with fails(InvalidArgument, "grace: 315576000000 s is longer than 30 days"):
        gc.RunGc(pb.RunGcRequest(dry_run=True, grace=Duration(seconds=315576000000)), timeout=CALL_SECONDS)
    with fails(InvalidArgument, "grace: whole seconds only, got 5 s and 5 ns"):
        gc.RunGc(pb.RunGcRequest(dry_run=True, grace=Duration(seconds=5, nanos=5)), timeout=CALL_SECONDS)


# --- finding 6: undecodable bytes ----------------------------------------------------------------


def raw_call(channel: grpc.Channel, method: str, data: bytes) -> bytes:
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    reply: bytes = call(data, timeout=CALL_SECONDS)
    return reply


def test_undecodable_request_bytes_are_invalid(channel: grpc.Channel, setup: str) -> None:
    bad = bytes.fromhex("0a8080808008")
    methods = ("/ipam.v1.PoolService/CreatePool", "/ipam.v1.LeaseService/ListLeases", "/grpc.health.v1.Health/Check")
    for method in methods:
        with fails(InvalidArgument, "request: not a valid protobuf message"):
            raw_call(channel, method, bad)
    not_utf8 = b"\x0a\x02\xff\xfe"  # field 1 (a string) holding bytes that are no UTF-8
    with fails(InvalidArgument, "request: not a valid protobuf message"):
        raw_call(channel, "/ipam.v1.PoolService/GetPool", not_utf8)
    watch = channel.unary_stream(
        "/ipam.v1.EndpointService/WatchEndpoints", request_serializer=None, response_deserializer=None
    )
    with fails(InvalidArgument, "request: not a valid protobuf message"):
        list(watch(bad, timeout=CALL_SECONDS))


# --- finding 7: messages quote a short prefix ----------------------------------------------------


def test_messages_quote_only_a_prefix_of_a_long_value(channel: grpc.Channel, setup: str) -> None:
    pools = rpc.PoolServiceStub(channel)
    with fails(InvalidArgument, "name: 20000 characters, more than the limit of 4096"):
        pools.GetPool(pb.GetPoolRequest(name="A" * 20000), timeout=CALL_SECONDS)
    with fails(InvalidArgument, "name: 'AAAA", "... (4000 characters) is not a valid name"):
        pools.GetPool(pb.GetPoolRequest(name="A" * 4000), timeout=CALL_SECONDS)
    with pytest.raises(grpc.RpcError) as info:
        rpc.LeaseServiceStub(channel).GetLease(
            pb.GetLeaseRequest(address="10.80.0.9", space="B" * 4000), timeout=CALL_SECONDS
        )
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    details = info.value.details() or ""
    assert 0 < len(details) <= 1024, details


# --- finding 11: label sets bounded at write time, pages that fit a message ----------------------


def test_label_sets_are_bounded_when_written(client: IpamClient, channel: grpc.Channel, setup: str) -> None:
    hosts = rpc.HostServiceStub(channel)
    many = {f"k{i}": "v" for i in range(65)}
    with fails(InvalidArgument, "labels: 65 labels, more than the limit of 64"):
        hosts.RegisterHost(pb.RegisterHostRequest(name="h3", labels=many), timeout=CALL_SECONDS)
    big = {f"key{i}": "v" * 200 for i in range(30)}
    with fails(InvalidArgument, "attributes: ", "bytes of keys and values, more than the limit of 4096"):
        client.allocate("h1", "c9", "eth0", [AddressSpec(pool="p")], attributes=big)
    with fails(InvalidArgument, "host_selector: 9000 characters, more than the limit of 8192"):
        client.create_pool("q", "10.81.0.0/16", 24, host_selector="a" * 9000)
    registry = rrpc.EndpointServiceStub(channel)
    half = {f"key{i}": "v" * 200 for i in range(12)}
    registry.RegisterEndpoint(
        rpb.RegisterEndpointRequest(host="h1", owner_id="c1", interface="eth0", labels=half), timeout=CALL_SECONDS
    )
    more = {f"other{i}": "v" * 200 for i in range(12)}
    update = rpb.UpdateEndpointLabelsRequest(owner_id="c1", interface="eth0", labels=more)
    with fails(InvalidArgument, "labels (merged with the endpoint's): ", "more than the limit of 4096"):
        registry.UpdateEndpointLabels(update, timeout=CALL_SECONDS)
    endpoint = registry.GetEndpoint(rpb.GetEndpointRequest(owner_id="c1", interface="eth0"), timeout=CALL_SECONDS)
    assert dict(endpoint.labels) == half  # the refused merge changed nothing


def test_list_pages_fit_a_message_whatever_the_rows_hold(client: IpamClient, engine: Engine, setup: str) -> None:
    """Rows written before the limits (here: straight into the database) still list, page by page."""
    for owner in ("big1", "big2", "big3"):
        client.allocate("h1", owner, "eth0", [AddressSpec(pool="p")])
    huge = json.dumps({f"attribute-{i:05}": "x" * 20 for i in range(60000)})  # 2.2 MB each
    with engine.begin() as conn:
        conn.execute(text("UPDATE lease SET attributes = CAST(:a AS jsonb) WHERE owner_id LIKE 'big%'"), {"a": huge})
    owners = [lease.owner_id for lease in client.list_leases()]
    assert sorted(owners) == ["big1", "big2", "big3", "c1"]
    assert count(engine, "SELECT count(*) FROM lease WHERE owner_id LIKE 'big%'") == 3


# --- finding 12: a zero grace is the server's ----------------------------------------------------


def test_a_zero_grace_is_the_servers_and_no_grace_reclaims_a_live_host(
    channel: grpc.Channel, engine: Engine, setup: str
) -> None:
    gc = rpc.GcServiceStub(channel)
    reply = gc.RunGc(pb.RunGcRequest(dry_run=True, grace=Duration(seconds=0)), timeout=CALL_SECONDS)
    assert reply.grace.seconds == 15 * 60  # the server's --gc-grace
    assert list(reply.items) == []
    # h1 heartbeated 5 s ago with a 30 s TTL: alive, whatever grace a caller asks for.
    with engine.begin() as conn:
        conn.execute(text("UPDATE host SET last_seen_at = now() - interval '5 seconds'"))
    reply = gc.RunGc(pb.RunGcRequest(grace=Duration(seconds=1)), timeout=CALL_SECONDS)
    assert list(reply.items) == []
    assert count(engine, "SELECT count(*) FROM lease WHERE state = 'active'") == 1
    # Past its TTL, a grace of 1 s does reclaim it.
    with engine.begin() as conn:
        conn.execute(text("UPDATE host SET last_seen_at = now() - interval '31 seconds'"))
        conn.execute(text("UPDATE lease SET allocated_at = now() - interval '31 seconds'"))
    reply = gc.RunGc(pb.RunGcRequest(grace=Duration(seconds=1)), timeout=CALL_SECONDS)
    assert {(item.kind, item.owner_id) for item in reply.items} >= {("lease", "c1")}


# --- finding 13: Docker addresses only for member hosts ------------------------------------------


def test_a_host_takes_addresses_only_in_docker_networks_it_joined(channel: grpc.Channel, setup: str) -> None:
    networks = rpc.DockerNetworkServiceStub(channel)
    request = pb.RequestNetworkAddressRequest(host="h2", pool_id=setup, role=CONTAINER)
    with fails(FailedPrecondition, 'host "h2" has not joined Docker network 10.90.1.0/24'):
        networks.RequestNetworkAddress(request, timeout=CALL_SECONDS)
    networks.RequestNetworkPool(pb.RequestNetworkPoolRequest(host="h2", subnet="10.90.1.0/24"), timeout=CALL_SECONDS)
    assert networks.RequestNetworkAddress(request, timeout=CALL_SECONDS).address_cidr.startswith("10.90.1.")
