"""`ipam space create|list|delete`: address spaces."""

from __future__ import annotations

import argparse
from typing import Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.output import column, time_column

COLUMNS = [column("name", "name"), column("description", "description"), time_column("created", "create_time")]


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    verbs = add_noun(
        subparsers,
        "space",
        parents,
        help="address spaces (isolated numbering planes)",
        description="Address spaces: pools of different spaces may overlap, pools of one space may not.",
    )
    create = add_verb(
        verbs,
        "create",
        parents,
        run=run_create,
        help="create an address space",
        examples=["ipam space create tenant-a --description 'Tenant A overlay'"],
    )
    create.add_argument("name")
    create.add_argument("--description", default="")
    output.add_options(create)

    listing = add_verb(
        verbs,
        "list",
        parents,
        run=run_list,
        help="list address spaces",
        examples=["ipam space list", "ipam space list -o json"],
    )
    output.add_options(listing, listing=True)

    delete = add_verb(
        verbs,
        "delete",
        parents,
        run=run_delete,
        help="delete an address space that holds no pools",
        examples=["ipam space delete tenant-a"],
    )
    delete.add_argument("name")


def run_create(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        created = ipam.create_address_space(args.name, args.description)
    output.emit_message(args, created, COLUMNS)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        spaces = remote.first(args.limit, ipam.iter_address_spaces)
    output.emit_messages(args, spaces, COLUMNS)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        ipam.delete_address_space(args.name)
    print(f'address space "{args.name}" deleted')
    return 0
