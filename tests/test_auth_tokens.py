"""Authentication: tokens are checked by one interceptor; every bad token gets the same answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
import pytest
from api_checks import fails
from conftest import in_process_server
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import Engine, text

from ipam.domain.tokens import MALFORMED, NOT_VALID
from ipam.server.app import ServerOptions
from ipam.server.auth import MISSING, NOT_BEARER
from ipam.server.token_cache import TTL_SECONDS
from ipam_client import IpamClient, Unauthenticated, pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc as rpc

NewToken = Callable[..., str]


@pytest.fixture(autouse=True)
def _no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IPAM_TOKEN", raising=False)


@contextmanager
def as_token(address: str, token: str | None) -> Iterator[IpamClient]:
    with IpamClient(address, token, retries=0) as ipam:
        yield ipam


def test_a_call_without_a_token_is_unauthenticated(auth_server: str) -> None:
    with as_token(auth_server, None) as ipam, fails(Unauthenticated, MISSING):
        ipam.list_pools()


def test_an_admin_token_is_accepted(auth_server: str, new_token: NewToken) -> None:
    with as_token(auth_server, new_token("admin")) as ipam:
        assert [s.name for s in ipam.list_address_spaces()] == ["default"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ((("authorization", "Basic dXNlcjpwYXNz"),), NOT_BEARER),
        ((("authorization", "Bearer"),), NOT_BEARER),
        ((("authorization", "Bearer not-a-token"),), MALFORMED),
        ((("authorization", "Bearer ipam_0123_abcd"),), MALFORMED),
    ],
)
def test_malformed_authorization_says_what_is_wrong(
    auth_server: str, metadata: tuple[tuple[str, str], ...], message: str
) -> None:
    with grpc.insecure_channel(auth_server) as channel, fails(Unauthenticated, message):
        rpc.PoolServiceStub(channel).ListPools(pb.ListPoolsRequest(), metadata=metadata, timeout=10)


def test_unknown_wrong_revoked_and_expired_tokens_get_the_same_answer(
    auth_server: str, new_token: NewToken, engine: Engine
) -> None:
    good = new_token("admin", name="kept")
    token_id = good.split("_")[1]
    unknown = f"ipam_{'0' * 16}_{'1' * 64}"
    wrong_secret = f"ipam_{token_id}_{'1' * 64}"
    revoked = new_token("reader", name="revoked")
    expired = new_token("reader", name="expired")
    with engine.begin() as conn:
        conn.execute(text("UPDATE api_token SET revoked_at = now() WHERE name = 'revoked'"))
        conn.execute(text("UPDATE api_token SET expires_at = now() - interval '1 second' WHERE name = 'expired'"))
    answers = set()
    for token in (unknown, wrong_secret, revoked, expired):
        with as_token(auth_server, token) as ipam, pytest.raises(Unauthenticated) as info:
            ipam.list_pools()
        answers.add(info.value.message)
    assert answers == {NOT_VALID}
    assert "revoked" in NOT_VALID  # names the possibilities, not which one it is


def test_revoking_over_grpc_takes_effect_at_once_on_that_server(auth_server: str, new_token: NewToken) -> None:
    victim = new_token("reader", name="victim")
    with as_token(auth_server, new_token("admin")) as admin, as_token(auth_server, victim) as reader:
        reader.list_pools()  # verified and cached
        revoked = admin.revoke_token("victim")
        assert revoked.HasField("revoke_time")
        with fails(Unauthenticated, NOT_VALID):
            reader.list_pools()
        assert admin.revoke_token(revoked.id).revoke_time == revoked.revoke_time  # twice is fine


def test_revocation_reaches_another_replica_within_the_cache_ttl(
    auth_server: str, engine: Engine, new_token: NewToken
) -> None:
    victim = new_token("reader", name="victim")
    with in_process_server(engine, ServerOptions(auth=True)) as other, as_token(other, victim) as reader:
        reader.list_pools()  # the other replica caches the token
        with as_token(auth_server, new_token("admin")) as admin:
            admin.revoke_token("victim")
        revoked_at = time.monotonic()
        while True:
            try:
                reader.list_pools()
            except Unauthenticated as exc:
                assert exc.message == NOT_VALID
                break
            assert time.monotonic() - revoked_at < TTL_SECONDS + 5, "still accepted long after the cache TTL"
            time.sleep(0.2)


def test_health_checks_need_no_token(auth_server: str) -> None:
    with grpc.insecure_channel(auth_server) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_token_management_lists_without_secrets(auth_server: str, new_token: NewToken) -> None:
    with as_token(auth_server, new_token("admin", name="root")) as admin:
        made = admin.create_token("node-1", "agent", host="node-1", ttl_seconds=3600)
        assert made.secret.startswith(f"ipam_{made.token.id}_")
        assert made.token.host == "node-1" and made.token.HasField("expire_time")
        listed = {t.name: t for t in admin.iter_tokens()}
    assert set(listed) == {"root", "node-1"}
    assert made.secret not in str(listed)
    with as_token(auth_server, made.secret) as agent:
        assert agent.register_host("node-1").name == "node-1"
