"""Options and connection for the admin commands, which talk to the server over gRPC only."""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ipam_agent.options import add_tls_arguments

if TYPE_CHECKING:
    from ipam_client import IpamClient

SERVER_ENV = "IPAM_SERVER"
TOKEN_ENV = "IPAM_TOKEN"
DEFAULT_SERVER = "127.0.0.1:50051"
# The address space the server assumes when a request names none.
DEFAULT_SPACE = "default"
# The largest page asked for: listing everything takes few calls, each of a bounded size.
MAX_PAGE_SIZE = 1000

T = TypeVar("T")


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("server connection")
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=os.environ.get(SERVER_ENV) or DEFAULT_SERVER,
        help=f"IPAM server address (default: ${SERVER_ENV} or {DEFAULT_SERVER})",
    )
    group.add_argument(
        "--token", default=os.environ.get(TOKEN_ENV) or None, help=f"bearer token (default: ${TOKEN_ENV})"
    )
    group.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per call (default: 10)")
    add_tls_arguments(group)  # the agent's own, so both read the same variables


def add_space_option(parser: argparse.ArgumentParser, what: str = "address space") -> None:
    """`--space NAME`: the address space of what the command names ("" lets the server use the default)."""
    parser.add_argument("--space", default="", help=f'{what} (default: "{DEFAULT_SPACE}")')


def connect(args: argparse.Namespace) -> IpamClient:
    from ipam_client import IpamClient

    return IpamClient(
        args.server,
        args.token,
        timeout=args.timeout,
        retries=2,
        tls=args.tls,
        ca_file=args.ca_file,
        cert_file=args.cert_file,
        key_file=args.key_file,
    )


def page_size(limit: int | None) -> int:
    """The page size for reading at most `limit` items (0, the server's default, for no limit)."""
    return min(limit, MAX_PAGE_SIZE) if limit else 0


def first(limit: int | None, iterate: Callable[..., Iterator[T]], *filters: Any, **named: Any) -> list[T]:
    """`iterate(*filters, **named, page_size=...)`, at most `limit` items of it: no page beyond is fetched."""
    return list(itertools.islice(iterate(*filters, **named, page_size=page_size(limit)), limit))
