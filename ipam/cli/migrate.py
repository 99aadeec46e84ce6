"""`ipam migrate`: bring the database schema up to date."""

from __future__ import annotations

import argparse
import logging
import sys

from ipam.cli import database


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], parents: list[argparse.ArgumentParser]
) -> None:
    parser = subparsers.add_parser(
        "migrate",
        parents=parents,
        help="apply the database migrations",
        description="Apply the Alembic migrations shipped with ipam (safe to run while servers run).",
        epilog="examples:\n"
        "  ipam migrate --database-url postgresql+psycopg://ipam@db.example/ipam\n"
        "  ipam migrate --data-dir ~/.local/share/ipam/pgdata   # the embedded database",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    database.add_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ipam.store.migrate import upgrade

    if logging.getLogger().isEnabledFor(logging.INFO):
        logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)  # "Running upgrade a -> b"
    with database.open_database(args) as db:
        upgrade(db.url)
        print(f"ipam: database schema is up to date ({db.label})", file=sys.stderr)
    return 0
