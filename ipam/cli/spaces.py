"""`ipam space create|list|delete`: address spaces."""

from __future__ import annotations

import argparse
from typing import Any

from ipam.cli import output, remote
from ipam.cli.commands import add_noun, add_verb
from ipam.cli.output import column

COLUMNS = [column("name", "name"), column("description", "description"), column("created", "create_time")]


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
        help="create an address space",
        examples=["ipam space create tenant-a --description 'Tenant A overlay'"],
    )
    create.add_argument("name")
    create.add_argument("--description", default="")
    output.add_options(create)
    create.set_defaults(run=run_create)

    listing = add_verb(
        verbs, "list", parents, help="list address spaces", examples=["ipam space list", "ipam space list -o json"]
    )
    output.add_options(listing, listing=True)
    listing.set_defaults(run=run_list)

    delete = add_verb(
        verbs,
        "delete",
        parents,
        help="delete an address space that holds no pools",
        examples=["ipam space delete tenant-a"],
    )
    delete.add_argument("name")
    delete.set_defaults(run=run_delete)


def run_create(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        created = ipam.create_address_space(args.name, args.description)
    output.emit(args, [output.record(created)], COLUMNS, single=True)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        spaces = ipam.list_address_spaces()[: args.limit]
    output.emit(args, [output.record(s) for s in spaces], COLUMNS)
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with remote.connect(args) as ipam:
        ipam.delete_address_space(args.name)
    print(f'address space "{args.name}" deleted')
    return 0
