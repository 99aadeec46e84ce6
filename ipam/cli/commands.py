"""Building the admin command tree: `ipam NOUN VERB ...`, each verb with examples in its help."""

from __future__ import annotations

import argparse
from typing import Any

from ipam.cli import remote


def add_noun(subparsers: Any, name: str, parents: list[argparse.ArgumentParser], *, help: str, description: str) -> Any:
    """`ipam NAME`; returns the sub-parsers to add its verbs to."""
    noun = subparsers.add_parser(name, parents=parents, help=help, description=description)
    return noun.add_subparsers(title="verbs", metavar="VERB", required=True)


def add_verb(
    verbs: Any, name: str, parents: list[argparse.ArgumentParser], *, help: str, examples: list[str]
) -> argparse.ArgumentParser:
    """A verb that talks to the server: connection options, and its examples under --help."""
    epilog = ("examples:\n" if len(examples) > 1 else "example:\n") + "\n".join(f"  {e}" for e in examples)
    return verbs.add_parser(
        name,
        parents=[*parents, _connection_options()],
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _connection_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    remote.add_options(parser)
    return parser
