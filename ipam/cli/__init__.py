# PYTHON_ARGCOMPLETE_OK
"""The `ipam` command line: `ipam serve`, `ipam migrate` (more subcommands plug in the same way).

Each subcommand lives in its own module with `register(subparsers, parents)`, which adds a parser
whose defaults carry `run(args) -> int`. Failures print one line, `ipam: error: ...`, and exit 1;
usage errors exit 2, whether argparse finds them or a command raises `UsageError`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

import argcomplete

from ipam.cli import (
    agent,
    certs,
    check,
    endpoints,
    gc,
    hosts,
    leases,
    logs,
    migrate,
    pools,
    serve,
    show_ip,
    spaces,
    subnets,
    tokens,
    usage,
)
from ipam.cli.commands import command_parser
from ipam.cli.errors import EXIT_USAGE, UsageError, describe, exit_code

COMMANDS = (
    serve,
    migrate,
    spaces,
    pools,
    hosts,
    subnets,
    leases,
    endpoints,
    usage,
    show_ip,
    check,
    gc,
    tokens,
    certs,
    agent,
)
LOG_LEVELS = ("debug", "info", "warning", "error")

log = logging.getLogger("ipam.cli")


def build_parser() -> argparse.ArgumentParser:
    # --log-level is accepted before and after the subcommand; SUPPRESS keeps one from erasing the other.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS, help="log verbosity (default: info)"
    )
    common.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default=argparse.SUPPRESS,
        help="text, or json: one JSON object per line (default: text)",
    )
    parser = argparse.ArgumentParser(
        prog="ipam", parents=[common], description="Distributed IPAM and endpoint registry."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('ipam-registry')}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers, [common])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "log_level", "info"), getattr(args, "log_format", "text"))
    try:
        return int(args.run(args))
    except UsageError as exc:
        command = command_parser(args) or parser
        command.print_usage(sys.stderr)
        print(f"{command.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ipam: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        log.debug("details of the error", exc_info=exc)
        print(f"ipam: error: {describe(exc)}", file=sys.stderr)
        return exit_code(exc)


def setup_logging(level: str, log_format: str = "text") -> None:
    # gRPC's C core logs bind failures and the like on its own; we report them in one line.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR" if level == "debug" else "NONE")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logs.formatter(log_format))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if level != "debug":
        # Alembic narrates its plugins and setup at INFO; keep output to the lines that matter.
        logging.getLogger("alembic").setLevel(logging.WARNING)
