"""`ipam token create|list|revoke`: API tokens, over gRPC (admin token) or straight in the database.

`--database-url` works without any token: it is how the first admin token is made, the way
`ipam migrate` reaches the database directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.durations import lifetime
from ipam.cli.output import column, time_column

if TYPE_CHECKING:
    from sqlalchemy import Engine

ROLES = ("admin", "agent", "reader")
COLUMNS = [
    column("name", "name"),
    column("id", "id"),
    column("role", "role"),
    column("host", "host"),
    time_column("created", "create_time"),
    time_column("expires", "expire_time"),
    time_column("revoked", "revoke_time"),
]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "token",
        parents,
        help="API tokens and their roles (admin, agent, reader)",
        description="API tokens for servers started with --auth. The server keeps a hash only: a "
        "token is shown once, when it is created. Without a server token yet, add --database-url "
        "to work in the database directly.",
    )
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="create a token and print it (once)",
        examples=[
            "ipam token create first-admin --role admin --database-url postgresql+psycopg://ipam@db/ipam",
            "ipam token create node-17 --role agent --host node-17 --ttl 90d",
            "ipam token create dashboards --role reader",
        ],
        notes="roles:\n  admin   everything\n  agent   register/heartbeat its --host; allocate and release "
        "only that host's leases; read\n  reader  get and list only",
    )
    create.add_argument("name")
    create.add_argument("--role", choices=ROLES, required=True)
    create.add_argument("--host", default="", help="the host an agent token is bound to (agent tokens only)")
    create.add_argument("--ttl", type=lifetime, default=0, metavar="DURATION", help="expire after 30m, 12h, 90d...")
    _database_option(create)
    output.add_options(create)

    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list tokens (never their secrets)",
        examples=["ipam token list", "ipam token list --all -o json"],
    )
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    _database_option(listing)
    output.add_options(listing, listing=True)

    revoke = add_verb(
        verbs,
        "revoke",
        parents,
        run=run_revoke,
        help="revoke a token by name or id",
        examples=["ipam token revoke node-17"],
        notes="Servers remember a verified token for up to 5 seconds: a revoked token stops working on\n"
        "every replica within that time (at once on the replica that revoked it).",
    )
    revoke.add_argument("name", help="the token's name or id")
    _database_option(revoke)
    output.add_options(revoke)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="work in this PostgreSQL directly instead of through a server (no token needed)",
    )


def run_create(args: argparse.Namespace) -> int:
    if args.database_url:
        from ipam.service import tokens

        with _engine(args.database_url) as engine:
            made = tokens.create_token(engine, args.name, args.role, args.host, args.ttl)
        created = _pb().CreateTokenResponse(token=_message(made.record), secret=made.token)
    else:
        with remote.connect(args) as ipam:
            created = ipam.create_token(args.name, args.role, host=args.host, ttl_seconds=args.ttl)
    if args.output == "table":
        print(created.secret)
        print(
            f'ipam: token "{created.token.name}" ({created.token.role}) created; it is not shown again', file=sys.stderr
        )
    else:
        output.emit(args, [output.record(created)], [], single=True)
    return 0


def run_list(args: argparse.Namespace) -> int:
    if args.database_url:
        from ipam.service import tokens

        with _engine(args.database_url) as engine:
            found = _all_pages(lambda size, token: tokens.list_tokens(engine, size, token, include_revoked=args.all))
            items = [_message(t) for t in found][: args.limit]
    else:
        with remote.connect(args) as ipam:
            items = remote.first(args.limit, ipam.iter_tokens, include_revoked=args.all)
    output.emit_messages(args, items, COLUMNS)
    return 0


def run_revoke(args: argparse.Namespace) -> int:
    if args.database_url:
        from ipam.service import tokens

        with _engine(args.database_url) as engine:
            revoked = _message(tokens.revoke_token(engine, args.name))
    else:
        with remote.connect(args) as ipam:
            revoked = ipam.revoke_token(args.name)
    output.emit_message(args, revoked, COLUMNS)
    return 0


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    from sqlalchemy import create_engine, pool

    from ipam.cli.database import check_connection
    from ipam.store.engine import normalize_url

    url = normalize_url(url)
    check_connection(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def _all_pages(read: Callable[[int, str], Any]) -> list[Any]:
    items: list[Any] = []
    token = ""
    while True:
        page = read(0, token)
        items.extend(page.items)
        token = page.next_token
        if not token:
            return items


def _message(record: Any) -> Any:
    from ipam.server.convert import token

    return token(record)


def _pb() -> Any:
    from ipam_client._pb.ipam.v1 import ipam_pb2

    return ipam_pb2
