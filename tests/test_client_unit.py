"""The client library against a real in-process gRPC server (no IPAM server, no database).

The fake server speaks the real ipam.v1 wire format over a TCP socket; each test decides what
it answers, and every call it receives is recorded (method, decoded request, metadata).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

import ipam_client
from ipam_client import AddressSpec, IpamClient, pb
from ipam_client._retry import Backoff

Respond = Callable[["Call", grpc.ServicerContext], Message | None]


@dataclass
class Call:
    method: str  # "Service/Method", e.g. "PoolService/GetPool"
    request: Any
    metadata: dict[str, str | bytes]


@dataclass
class FakeServer:
    """A real grpc.server on 127.0.0.1 answering every ipam.v1 method with ``respond``."""

    respond: Respond
    credentials: grpc.ServerCredentials | None = None
    calls: list[Call] = field(default_factory=list)
    address: str = ""

    def start(self) -> FakeServer:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers((_Handler(self),))
        if self.credentials is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            port = self._server.add_secure_port("127.0.0.1:0", self.credentials)
        self.address = f"127.0.0.1:{port}"
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(0)

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]


class _Handler(grpc.GenericRpcHandler):
    def __init__(self, fake: FakeServer) -> None:
        self._fake = fake

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        service_name, method_name = details.method.split("/")[1:]
        package, _, service = service_name.rpartition(".")
        if package != "ipam.v1":
            return None
        desc = pb.DESCRIPTOR.services_by_name[service].methods_by_name[method_name]
        request_cls = getattr(pb, desc.input_type.name)
        response_cls = getattr(pb, desc.output_type.name)

        def handle(request: Message, context: grpc.ServicerContext) -> Message:
            metadata = dict(context.invocation_metadata())
            call = Call(f"{service}/{method_name}", request, metadata)
            self._fake.calls.append(call)
            return self._fake.respond(call, context) or response_cls()

        return grpc.unary_unary_rpc_method_handler(
            handle,
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    started: list[FakeServer] = []

    def start(respond: Respond = lambda call, ctx: None, **kwargs: Any) -> FakeServer:
        server = FakeServer(respond, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPAM_SERVER", raising=False)
    monkeypatch.delenv("IPAM_TOKEN", raising=False)


# -- error mapping --------------------------------------------------------------------------

MAPPED = [
    (grpc.StatusCode.INVALID_ARGUMENT, ipam_client.InvalidArgument),
    (grpc.StatusCode.NOT_FOUND, ipam_client.NotFound),
    (grpc.StatusCode.ALREADY_EXISTS, ipam_client.AlreadyExists),
    (grpc.StatusCode.FAILED_PRECONDITION, ipam_client.FailedPrecondition),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, ipam_client.ResourceExhausted),
    (grpc.StatusCode.PERMISSION_DENIED, ipam_client.PermissionDenied),
    (grpc.StatusCode.UNAUTHENTICATED, ipam_client.Unauthenticated),
    (grpc.StatusCode.DEADLINE_EXCEEDED, ipam_client.DeadlineExceeded),
    (grpc.StatusCode.INTERNAL, ipam_client.IpamClientError),
]


@pytest.mark.parametrize(("code", "cls"), MAPPED, ids=[c.name for c, _ in MAPPED])
def test_status_codes_map_to_error_classes(
    serve: Callable[..., FakeServer], code: grpc.StatusCode, cls: type[ipam_client.IpamClientError]
) -> None:
    details = 'pool "prod-v4" has no free host subnet (256/256 used)'

    def respond(call: Call, ctx: grpc.ServicerContext) -> None:
        ctx.abort(code, details)

    fake = serve(respond)
    with IpamClient(fake.address, retries=0) as client, pytest.raises(ipam_client.IpamClientError) as info:
        client.get_pool("prod-v4")
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.message == details
    assert str(info.value) == details
    assert not isinstance(info.value, grpc.RpcError)
    assert isinstance(info.value.__cause__, grpc.RpcError)


def test_unavailable_from_server_names_the_address(serve: Callable[..., FakeServer]) -> None:
    def respond(call: Call, ctx: grpc.ServicerContext) -> None:
        ctx.abort(grpc.StatusCode.UNAVAILABLE, "database is down")

    fake = serve(respond)
    with IpamClient(fake.address, retries=0) as client, pytest.raises(ipam_client.Unavailable) as info:
        client.list_hosts()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE
    assert info.value.message == f"cannot reach IPAM server at {fake.address}: database is down"


def test_unreachable_server_raises_unavailable_with_address() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    with IpamClient(address, retries=0, timeout=5) as client, pytest.raises(ipam_client.Unavailable) as info:
        client.get_host("node-1")
    assert info.value.message.startswith(f"cannot reach IPAM server at {address}: ")


# -- retries --------------------------------------------------------------------------------


def _flaky(n: int, code: grpc.StatusCode, reply: Message | None = None, delay: float = 0.0) -> Respond:
    """Fail (abort with ``code``, or sleep ``delay`` first) on the first ``n`` calls, then answer."""
    seen: list[int] = []

    def respond(call: Call, ctx: grpc.ServicerContext) -> Message | None:
        seen.append(1)
        if len(seen) <= n:
            if delay:
                time.sleep(delay)
                return reply
            ctx.abort(code, f"attempt {len(seen)} failed")
        return reply

    return respond


# CANCELLED: what a server shutting down answers to calls it had received but not started.
@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED])
def test_allocate_is_retried_with_the_same_owner_key(serve: Callable[..., FakeServer], code: grpc.StatusCode) -> None:
    lease = pb.Lease(address="10.1.0.5", owner_id="c1", interface="eth0", state=pb.LEASE_STATE_ACTIVE)
    fake = serve(_flaky(2, code, pb.AllocateResponse(leases=[lease])))
    with IpamClient(fake.address, retries=5) as client:
        reply = client.allocate("node-1", "c1", "eth0", [AddressSpec(pool="prod-v4")])
    assert [lease.address for lease in reply.leases] == ["10.1.0.5"]
    assert fake.methods() == ["LeaseService/Allocate"] * 3
    assert {(c.request.owner_id, c.request.interface) for c in fake.calls} == {("c1", "eth0")}


def test_retries_stop_after_the_limit(serve: Callable[..., FakeServer]) -> None:
    fake = serve(_flaky(100, grpc.StatusCode.UNAVAILABLE))
    with IpamClient(fake.address, retries=2) as client, pytest.raises(ipam_client.Unavailable) as info:
        client.create_address_space("blue")
    assert len(fake.calls) == 3  # the first attempt and 2 retries
    assert info.value.message.endswith("attempt 3 failed")


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.INTERNAL]
)
def test_other_errors_are_not_retried(serve: Callable[..., FakeServer], code: grpc.StatusCode) -> None:
    fake = serve(_flaky(1, code))
    with IpamClient(fake.address, retries=5) as client, pytest.raises(ipam_client.IpamClientError):
        client.get_pool("prod-v4")
    assert len(fake.calls) == 1


def test_deadline_exceeded_is_retried_for_reads_only(serve: Callable[..., FakeServer]) -> None:
    pool = pb.Pool(name="prod-v4", cidr="10.1.0.0/16")
    slow_twice = serve(_flaky(2, grpc.StatusCode.OK, pool, delay=0.5))
    with IpamClient(slow_twice.address, timeout=0.2, retries=5) as client:
        assert client.get_pool("prod-v4").cidr == "10.1.0.0/16"
    assert len(slow_twice.calls) == 3

    slow_write = serve(_flaky(2, grpc.StatusCode.OK, pool, delay=0.5))
    with (
        IpamClient(slow_write.address, timeout=0.2, retries=5) as client,
        pytest.raises(ipam_client.DeadlineExceeded),
    ):
        client.create_pool("prod-v4", "10.1.0.0/16", 24)
    assert len(slow_write.calls) == 1


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff()
    assert [backoff.delay(n, rand=lambda: 1.0) for n in range(7)] == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert backoff.delay(20, rand=lambda: 1.0) == 2.0
    assert backoff.delay(0, rand=lambda: 0.0) == 0.025  # jitter keeps at least half the step


# -- server address and token ---------------------------------------------------------------


def test_token_is_sent_as_bearer_metadata(serve: Callable[..., FakeServer]) -> None:
    fake = serve()
    with IpamClient(fake.address, token="s3cret") as client:
        client.list_pools()
    with IpamClient(fake.address) as client:
        client.list_pools()
    assert fake.calls[0].metadata["authorization"] == "Bearer s3cret"
    assert "authorization" not in fake.calls[1].metadata


def test_server_and_token_from_environment(serve: Callable[..., FakeServer], monkeypatch: pytest.MonkeyPatch) -> None:
    from_env, from_arg = serve(), serve()
    monkeypatch.setenv("IPAM_SERVER", from_env.address)
    monkeypatch.setenv("IPAM_TOKEN", "env-token")
    with IpamClient() as client:
        assert client.server == from_env.address
        client.get_host("node-1")
    with IpamClient(from_arg.address, token="arg-token") as client:
        client.get_host("node-1")
    assert [c.metadata["authorization"] for c in from_env.calls] == ["Bearer env-token"]
    assert [c.metadata["authorization"] for c in from_arg.calls] == ["Bearer arg-token"]


def test_default_server_address() -> None:
    with IpamClient() as client:
        assert client.server == "127.0.0.1:50051"


def test_invalid_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="timeout"):
        IpamClient(timeout=0)
    with pytest.raises(ValueError, match="retries"):
        IpamClient(retries=-1)
    with pytest.raises(ValueError, match="together"):
        IpamClient(cert_file="client.pem")


def test_closed_client_refuses_calls(serve: Callable[..., FakeServer]) -> None:
    fake = serve()
    with IpamClient(fake.address) as client:
        client.list_hosts()
    with pytest.raises(ValueError, match="closed"):
        client.list_hosts()
    assert len(fake.calls) == 1


# -- requests on the wire -------------------------------------------------------------------

WIRE: list[tuple[str, Callable[[IpamClient], object], str, Message]] = [
    (
        "create_address_space",
        lambda c: c.create_address_space("blue", "tenant blue"),
        "AddressSpaceService/CreateAddressSpace",
        pb.CreateAddressSpaceRequest(name="blue", description="tenant blue"),
    ),
    (
        "delete_address_space",
        lambda c: c.delete_address_space("blue"),
        "AddressSpaceService/DeleteAddressSpace",
        pb.DeleteAddressSpaceRequest(name="blue"),
    ),
    (
        "create_pool",
        lambda c: c.create_pool(
            "prod-v6",
            "fd00::/48",
            64,
            space="blue",
            reserved_cidrs=["fd00::/64"],
            host_selector="zone=a",
            disabled=True,
            cooldown_seconds=30,
            max_subnets_per_host=2,
            gateway_policy=pb.GATEWAY_POLICY_NONE,
        ),
        "PoolService/CreatePool",
        pb.CreatePoolRequest(
            name="prod-v6",
            space="blue",
            cidr="fd00::/48",
            host_prefix_length=64,
            reserved_cidrs=["fd00::/64"],
            host_selector="zone=a",
            disabled=True,
            cooldown_seconds=30,
            max_subnets_per_host=2,
            gateway_policy=pb.GATEWAY_POLICY_NONE,
        ),
    ),
    ("get_pool", lambda c: c.get_pool("p"), "PoolService/GetPool", pb.GetPoolRequest(name="p")),
    (
        "update_pool",
        lambda c: c.update_pool("p", disabled=False, cooldown_seconds=0),
        "PoolService/UpdatePool",
        pb.UpdatePoolRequest(name="p", disabled=False, cooldown_seconds=0),
    ),
    (
        "update_pool_reserved",
        lambda c: c.update_pool("p", reserved_cidrs=[]),
        "PoolService/UpdatePool",
        pb.UpdatePoolRequest(name="p", set_reserved_cidrs=True),
    ),
    (
        "delete_pool",
        lambda c: c.delete_pool("p", force=True),
        "PoolService/DeletePool",
        pb.DeletePoolRequest(name="p", force=True),
    ),
    (
        "register_host",
        lambda c: c.register_host("node-1", {"zone": "a"}),
        "HostService/RegisterHost",
        pb.RegisterHostRequest(name="node-1", labels={"zone": "a"}),
    ),
    ("get_host", lambda c: c.get_host("node-1"), "HostService/GetHost", pb.GetHostRequest(name="node-1")),
    (
        "acquire_subnet",
        lambda c: c.acquire_subnet("node-1", space="blue", family=6),
        "SubnetService/AcquireSubnet",
        pb.AcquireSubnetRequest(host="node-1", space="blue", family=pb.FAMILY_IPV6),
    ),
    (
        "release_subnet",
        lambda c: c.release_subnet("10.1.2.0/24", space="blue", force=True),
        "SubnetService/ReleaseSubnet",
        pb.ReleaseSubnetRequest(cidr="10.1.2.0/24", space="blue", force=True),
    ),
    (
        "allocate",
        lambda c: c.allocate(
            "node-1",
            "c1",
            "eth0",
            [
                AddressSpec(pool="v4", address="10.1.0.9"),
                pb.AddressRequest(space="blue", family=pb.FAMILY_IPV6),
            ],
            {"k8s/pod": "web-0"},
        ),
        "LeaseService/Allocate",
        pb.AllocateRequest(
            host="node-1",
            owner_id="c1",
            interface="eth0",
            attributes={"k8s/pod": "web-0"},
            addresses=[
                pb.AddressRequest(pool="v4", address="10.1.0.9"),
                pb.AddressRequest(space="blue", family=pb.FAMILY_IPV6),
            ],
        ),
    ),
    (
        "release_owner",
        lambda c: c.release_owner("c1", "eth0"),
        "LeaseService/Release",
        pb.ReleaseRequest(owner=pb.OwnerKey(owner_id="c1", interface="eth0")),
    ),
    (
        "release_address",
        lambda c: c.release_address("10.1.0.9", "blue"),
        "LeaseService/Release",
        pb.ReleaseRequest(address=pb.AddressKey(address="10.1.0.9", space="blue")),
    ),
    (
        "get_lease",
        lambda c: c.get_lease("fd00::5"),
        "LeaseService/GetLease",
        pb.GetLeaseRequest(address="fd00::5"),
    ),
]


@pytest.mark.parametrize(("invoke", "method", "expected"), [w[1:] for w in WIRE], ids=[w[0] for w in WIRE])
def test_each_method_sends_its_request(
    serve: Callable[..., FakeServer], invoke: Callable[[IpamClient], object], method: str, expected: Message
) -> None:
    fake = serve()
    with IpamClient(fake.address) as client:
        invoke(client)
    assert fake.methods() == [method]
    assert fake.calls[0].request == expected


def test_update_pool_leaves_unset_fields_unset(serve: Callable[..., FakeServer]) -> None:
    fake = serve()
    with IpamClient(fake.address) as client:
        client.update_pool("p", max_subnets_per_host=0)
    sent = fake.calls[0].request
    assert sent.HasField("max_subnets_per_host")
    for name in ("disabled", "cooldown_seconds", "host_selector"):
        assert not sent.HasField(name)
    assert not sent.set_reserved_cidrs


def test_allocate_rejects_unknown_request_items() -> None:
    with IpamClient() as client, pytest.raises(TypeError, match="AddressSpec"):
        client.allocate("node-1", "c1", "eth0", [{"pool": "v4"}])  # type: ignore[list-item]


def test_replies_come_back_as_messages(serve: Callable[..., FakeServer]) -> None:
    released = pb.Lease(address="10.1.0.9", state=pb.LEASE_STATE_RELEASED)
    fake = serve(lambda call, ctx: pb.ReleaseResponse(leases=[released], already_released=True))
    with IpamClient(fake.address) as client:
        reply = client.release_address("10.1.0.9")
    assert isinstance(reply, pb.ReleaseResponse)
    assert reply.already_released
    assert reply.leases[0].state == pb.LEASE_STATE_RELEASED


# -- pagination -----------------------------------------------------------------------------


def _paged(field_name: str, item: Callable[[int], Message], pages: int = 3) -> Respond:
    """Answer List calls with ``pages`` pages of two items, chained by page tokens."""

    def respond(call: Call, ctx: grpc.ServicerContext) -> Message:
        page = int(call.request.page_token or "0")
        response_cls = type(call.request).__name__.replace("Request", "Response")
        reply = getattr(pb, response_cls)(next_page_token=str(page + 1) if page + 1 < pages else "")
        getattr(reply, field_name).extend([item(2 * page), item(2 * page + 1)])
        return reply

    return respond


LISTS: list[tuple[str, Callable[[IpamClient], list[Any]], str, str, Callable[[int], Message]]] = [
    (
        "list_address_spaces",
        lambda c: c.list_address_spaces(page_size=2),
        "AddressSpaceService/ListAddressSpaces",
        "address_spaces",
        lambda i: pb.AddressSpace(name=f"s{i}"),
    ),
    (
        "list_pools",
        lambda c: c.list_pools("blue", page_size=2),
        "PoolService/ListPools",
        "pools",
        lambda i: pb.Pool(name=f"p{i}"),
    ),
    (
        "list_hosts",
        lambda c: c.list_hosts(page_size=2),
        "HostService/ListHosts",
        "hosts",
        lambda i: pb.Host(name=f"h{i}"),
    ),
    (
        "list_subnets",
        lambda c: c.list_subnets("v4", "node-1", page_size=2),
        "SubnetService/ListSubnets",
        "subnets",
        lambda i: pb.HostSubnet(cidr=f"10.0.{i}.0/24"),
    ),
    (
        "list_leases",
        lambda c: c.list_leases("v4", "node-1", "c1", "eth0", pb.LEASE_STATE_ACTIVE, page_size=2),
        "LeaseService/ListLeases",
        "leases",
        lambda i: pb.Lease(address=f"10.0.0.{i}"),
    ),
]


@pytest.mark.parametrize(("invoke", "method", "field_name", "item"), [x[1:] for x in LISTS], ids=[x[0] for x in LISTS])
def test_lists_follow_every_page(
    serve: Callable[..., FakeServer],
    invoke: Callable[[IpamClient], list[Any]],
    method: str,
    field_name: str,
    item: Callable[[int], Message],
) -> None:
    fake = serve(_paged(field_name, item))
    with IpamClient(fake.address) as client:
        got = invoke(client)
    assert got == [item(i) for i in range(6)]
    assert fake.methods() == [method] * 3
    assert [c.request.page_token for c in fake.calls] == ["", "1", "2"]
    assert {c.request.page_size for c in fake.calls} == {2}


def test_list_leases_sends_filters_on_every_page(serve: Callable[..., FakeServer]) -> None:
    fake = serve(_paged("leases", lambda i: pb.Lease(address=f"10.0.0.{i}")))
    with IpamClient(fake.address) as client:
        client.list_leases(pool="v4", host="node-1", owner_id="c1", interface="eth0", state=pb.LEASE_STATE_ACTIVE)
    for call in fake.calls:
        filters = (call.request.pool, call.request.host, call.request.owner_id, call.request.interface)
        assert filters == ("v4", "node-1", "c1", "eth0")
        assert call.request.state == pb.LEASE_STATE_ACTIVE


ITERATORS: list[tuple[str, Callable[[IpamClient], Iterator[Any]], str, Callable[[int], Message], dict[str, Any]]] = [
    (
        "iter_address_spaces",
        lambda c: c.iter_address_spaces(page_size=2),
        "address_spaces",
        lambda i: pb.AddressSpace(name=f"s{i}"),
        {},
    ),
    (
        "iter_pools",
        lambda c: c.iter_pools("blue", page_size=2),
        "pools",
        lambda i: pb.Pool(name=f"p{i}"),
        {"space": "blue"},
    ),
    (
        "iter_hosts",
        lambda c: c.iter_hosts(page_size=2),
        "hosts",
        lambda i: pb.Host(name=f"h{i}"),
        {},
    ),
    (
        "iter_subnets",
        lambda c: c.iter_subnets("v4", "node-1", address="10.0.0.5", space="blue", page_size=2),
        "subnets",
        lambda i: pb.HostSubnet(cidr=f"10.0.{i}.0/24"),
        {"pool": "v4", "host": "node-1", "address": "10.0.0.5", "space": "blue"},
    ),
    (
        "iter_leases",
        lambda c: c.iter_leases(host="node-1", state=pb.LEASE_STATE_ACTIVE, page_size=2),
        "leases",
        lambda i: pb.Lease(address=f"10.0.0.{i}"),
        {"host": "node-1", "state": pb.LEASE_STATE_ACTIVE},
    ),
]


@pytest.mark.parametrize(
    ("invoke", "field_name", "item", "filters"), [x[1:] for x in ITERATORS], ids=[x[0] for x in ITERATORS]
)
def test_iterators_fetch_pages_lazily(
    serve: Callable[..., FakeServer],
    invoke: Callable[[IpamClient], Iterator[Any]],
    field_name: str,
    item: Callable[[int], Message],
    filters: dict[str, Any],
) -> None:
    fake = serve(_paged(field_name, item))
    with IpamClient(fake.address) as client:
        items = invoke(client)
        assert fake.calls == []
        assert [next(items), next(items)] == [item(0), item(1)]
        assert len(fake.calls) == 1
        assert next(items) == item(2)
        assert len(fake.calls) == 2
        assert list(items) == [item(i) for i in range(3, 6)]
        assert len(fake.calls) == 3
    assert [c.request.page_token for c in fake.calls] == ["", "1", "2"]
    for call in fake.calls:
        assert call.request.page_size == 2
        assert {name: getattr(call.request, name) for name in filters} == filters


@pytest.mark.parametrize(("invoke", "field_name", "item"), [x[1:4] for x in ITERATORS], ids=[x[0] for x in ITERATORS])
def test_an_iterator_left_early_fetches_no_further_page(
    serve: Callable[..., FakeServer],
    invoke: Callable[[IpamClient], Iterator[Any]],
    field_name: str,
    item: Callable[[int], Message],
) -> None:
    fake = serve(_paged(field_name, item))
    with IpamClient(fake.address) as client:
        items = invoke(client)
        assert [next(items) for _ in range(3)] == [item(0), item(1), item(2)]
    assert [c.request.page_token for c in fake.calls] == ["", "1"]


def test_a_page_is_retried_on_unavailable(serve: Callable[..., FakeServer]) -> None:
    paged = _paged("hosts", lambda i: pb.Host(name=f"h{i}"))
    failed: list[str] = []

    def respond(call: Call, ctx: grpc.ServicerContext) -> Message:
        if call.request.page_token == "1" and not failed:
            failed.append("1")
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "replica restarting")
        return paged(call, ctx)  # type: ignore[return-value]

    fake = serve(respond)
    with IpamClient(fake.address) as client:
        hosts = client.list_hosts()
    assert [h.name for h in hosts] == [f"h{i}" for i in range(6)]
    assert [c.request.page_token for c in fake.calls] == ["", "1", "1", "2"]


# -- TLS ------------------------------------------------------------------------------------


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.skipif(subprocess.run(["which", "openssl"], capture_output=True).returncode != 0, reason="no openssl")
def test_mutual_tls(serve: Callable[..., FakeServer], tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())], root_certificates=cert.read_bytes(), require_client_auth=True
    )
    fake = serve(credentials=credentials)
    target = fake.address.replace("127.0.0.1", "localhost")
    with IpamClient(target, token="t", tls=True, ca_file=cert, cert_file=cert, key_file=key) as client:
        client.get_host("node-1")
    assert fake.calls[0].metadata["authorization"] == "Bearer t"

    with IpamClient(target, ca_file=cert, retries=0) as client, pytest.raises(ipam_client.Unavailable):
        client.get_host("node-1")  # no client certificate: the handshake fails
    with IpamClient(fake.address, retries=0) as client, pytest.raises(ipam_client.Unavailable):
        client.get_host("node-1")  # plaintext against a TLS port
    assert len(fake.calls) == 1


# -- dependencies ---------------------------------------------------------------------------


def test_client_imports_no_server_or_database_code() -> None:
    probe = (
        "import sys, ipam_client, ipam_client.client, ipam_client.errors;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ipam', 'sqlalchemy', 'psycopg', 'alembic'}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
