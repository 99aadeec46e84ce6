"""Building the admin command tree: `ipam NOUN VERB ...`, each verb with examples in its help."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ipam.cli import remote

# Where add_verb keeps each verb's parser, for main() to report a UsageError the way argparse would.
_PARSER = "_command_parser"


def add_noun(subparsers: Any, name: str, parents: list[argparse.ArgumentParser], *, help: str, description: str) -> Any:
    """`ipam NAME`; returns the sub-parsers to add its verbs to."""
    noun = subparsers.add_parser(name, parents=parents, help=help, description=description)
    return noun.add_subparsers(title="verbs", metavar="VERB", required=True)


def add_verb(
    verbs: Any,
    name: str,
    parents: list[argparse.ArgumentParser],
    *,
    run: Callable[[argparse.Namespace], int],
    help: str,
    examples: list[str],
    description: str | None = None,
    notes: str | None = None,
) -> argparse.ArgumentParser:
    """A verb that talks to the server with `run(args) -> exit status`: connection options, and
    its examples under --help.

    `description` (default: `help` as a sentence) comes before the options; `notes`, e.g. an
    "exit status:" section, after the examples. Both are printed as written.
    """
    epilog = ("examples:\n" if len(examples) > 1 else "example:\n") + "\n".join(f"  {e}" for e in examples)
    if notes:
        epilog += "\n\n" + notes.strip("\n")
    parser: argparse.ArgumentParser = verbs.add_parser(
        name,
        parents=[*parents, _connection_options()],
        help=help,
        description=description or help[0].upper() + help[1:] + ".",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run, **{_PARSER: parser})
    return parser


def command_parser(args: argparse.Namespace) -> argparse.ArgumentParser | None:
    """The parser of the verb `args` were parsed for, when it was added with add_verb."""
    return getattr(args, _PARSER, None)


def key_value(text: str) -> tuple[str, str]:
    """An argument type: `KEY=VALUE` (the value may be empty, the key may not)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _connection_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    remote.add_options(parser)
    return parser
