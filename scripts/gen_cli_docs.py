"""Regenerate docs/cli.md, the command-line reference, from the argparse parsers' --help.

    python scripts/gen_cli_docs.py          # write docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 when docs/cli.md is stale

Every command's help is generated. The example under a command (between `<!-- example: ipam pool -->`
and `<!-- /example -->`) is written by hand, kept here as it stands, and run against a real server
by tests/test_docs.py, so neither part goes stale silently.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI_MD = ROOT / "docs" / "cli.md"
# Help text depends on the terminal's width and on a few environment variables read for defaults.
WIDTH = "100"
ENVIRONMENT = ("DOCKER_HOST", "IPAM_SERVER", "IPAM_TOKEN", "IPAM_DATABASE_URL", "IPAM_TLS_CA", "IPAM_TLS_CERT")
EXAMPLE = re.compile(r"<!-- example: (?P<command>[^>]+?) -->\n.*?<!-- /example -->\n", re.DOTALL)

HEADER = """\
# Command-line reference

Generated from the commands' `--help` by `python scripts/gen_cli_docs.py` (CI runs it with
`--check`): edit the parsers, not this file, then run the script. The example under a command is
written by hand and run against a real server by `tests/test_docs.py`.

Common to every admin command: `--server HOST:PORT` (or `IPAM_SERVER`, default `127.0.0.1:50051`),
`--token` (or `IPAM_TOKEN`), `--tls`, `--ca-file`, `--cert-file`, `--key-file` (or `IPAM_TLS_CA`,
`IPAM_TLS_CERT`, `IPAM_TLS_KEY`), `--timeout`. Listings print a table, or `-o json` / `-o yaml` with
the API's field names. Exit codes: 0 success, 1 failure (one line on stderr, `ipam: error: ...`),
2 usage, 3 server unreachable. Listings follow page tokens (`--limit N` stops early); long
operations (`lease release --all`, `check`) show a progress bar on a terminal and stay quiet when
piped. Shell completion (bash, zsh): `eval "$(register-python-argcomplete ipam)"`.
"""


def parsers() -> list[argparse.ArgumentParser]:
    """The top-level parsers of the three commands a user runs."""
    os.environ["COLUMNS"] = WIDTH
    for name in ENVIRONMENT:
        os.environ.pop(name, None)
    from ipam.cli import build_parser
    from ipam_agent.main import build_parser as agent_parser
    from ipam_cni.install import build_parser as cni_parser

    return [build_parser(), agent_parser(), cni_parser()]


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parser and its sub-commands, depth first, in the order they were added."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for child in action.choices.values():
                if id(child) not in seen:  # an alias maps to the same parser
                    seen.add(id(child))
                    yield from walk(child)


def render(examples: dict[str, str]) -> str:
    sections = [HEADER]
    contents = []
    for top in parsers():
        for parser in walk(top):
            depth = parser.prog.count(" ")
            anchor = parser.prog.replace(" ", "_")  # `ipam agent` and `ipam-agent` both have one
            contents.append(f"{'  ' * depth}- [{parser.prog}](#{anchor})")
            sections.append(f'<a id="{anchor}"></a>\n\n{"#" * min(depth + 2, 4)} `{parser.prog}`\n')
            if parser.prog in examples:
                sections.append(examples.pop(parser.prog))
            sections.append(f"```text\n{parser.format_help().rstrip()}\n```\n")
    if examples:
        raise SystemExit(f"examples for commands that no longer exist: {', '.join(sorted(examples))}")
    sections.insert(1, "\n".join(contents) + "\n")
    return "\n".join(sections)


def current_examples() -> dict[str, str]:
    text = CLI_MD.read_text() if CLI_MD.exists() else ""
    return {m["command"]: m[0] for m in EXAMPLE.finditer(text)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when docs/cli.md is stale")
    args = parser.parse_args()
    fresh = render(current_examples())
    if args.check:
        if not CLI_MD.exists() or CLI_MD.read_text() != fresh:
            print("docs/cli.md is stale; run: python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        print("docs/cli.md is up to date")
        return 0
    CLI_MD.parent.mkdir(exist_ok=True)
    CLI_MD.write_text(fresh)
    print(f"wrote {CLI_MD.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
