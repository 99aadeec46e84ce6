"""`ipam token ...` and `ipam serve --auth` as people use them: subprocesses against real servers."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from processes import ServerProcessFactory

from ipam.cli.serve import FIRST_TOKEN_HINT

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_the_first_admin_token_is_made_in_the_database_then_used_over_grpc(
    ipam_cli: Cli, auth_server: str, database_url: str
) -> None:
    env = {"IPAM_SERVER": auth_server}
    made = ipam_cli("token", "create", "first-admin", "--role", "admin", "--database-url", database_url, env=env)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("ipam_") and "not shown again" in made.stderr

    denied = ipam_cli("space", "list", env=env)
    assert denied.returncode == 1
    assert "requires a token" in denied.stderr

    agent = ipam_cli(
        "token", "create", "node-1", "--role", "agent", "--host", "node-1", "--ttl", "90d", "-o", "json",
        "--token", token, env=env,
    )  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    created = json.loads(agent.stdout)
    assert created["token"]["host"] == "node-1" and created["secret"].startswith("ipam_")

    listed = ipam_cli("token", "list", "--token", token, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "first-admin" in listed.stdout and "node-1" in listed.stdout
    assert token not in listed.stdout and created["secret"] not in listed.stdout

    revoked = ipam_cli("token", "revoke", "node-1", "--database-url", database_url, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout


def test_token_create_checks_the_role_and_host(ipam_cli: Cli, database_url: str) -> None:
    without_host = ipam_cli("token", "create", "a", "--role", "agent", "--database-url", database_url)
    assert without_host.returncode == 1
    assert "an agent token is bound to one host" in without_host.stderr
    bad_ttl = ipam_cli("token", "create", "a", "--role", "reader", "--ttl", "soon", "--database-url", database_url)
    assert bad_ttl.returncode == 2
    assert "'soon' is not a duration (e.g. 90s, 15m, 1h30m, 2d)" in bad_ttl.stderr
    twice = [ipam_cli("token", "create", "x", "--role", "reader", "--database-url", database_url) for _ in range(2)]
    assert twice[0].returncode == 0 and twice[1].returncode == 1
    assert 'a token named "x" already exists' in twice[1].stderr


def test_serve_with_auth_says_how_to_make_the_first_token(server_process_factory: ServerProcessFactory) -> None:
    proc = server_process_factory("--auth")
    proc.stop()
    assert FIRST_TOKEN_HINT in proc.output()
