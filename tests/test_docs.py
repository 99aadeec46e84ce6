"""The documentation runs as written and speaks of current facts only.

A ```console block right after the line `<!-- runnable -->` in README.md or docs/*.md is run
against a real server (a fresh database per file, the blocks of a file in order): each `$ ` line is
a shell command, the lines up to the next command its expected output (stdout and stderr). A
runnable ```python block must run without an error (IPAM_SERVER names the server).
Times, durations and tokens differ from run to run and are compared as placeholders.
`IPAM_DOCS_UPDATE=1 pytest tests/test_docs.py` writes the outputs of this run into the files instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE = re.compile(r"^<!-- runnable -->\n```(console|python)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"), "<time>"),
    (re.compile(r"ipam_[0-9a-f]{16}_[0-9a-f]{64}"), "<token>"),
    (re.compile(r"\b[0-9a-f]{16}\b"), "<token id>"),
    (re.compile(r"\b\d+\.\d\d s\b"), "<seconds>"),
]
# The admin commands, each of which shows an example in docs/cli.md.
ADMIN_COMMANDS = {
    "space",
    "pool",
    "host",
    "subnet",
    "lease",
    "endpoint",
    "whois",
    "usage",
    "show-ip",
    "check",
    "gc",
    "token",
}


@dataclass
class Step:
    shown: str  # the command as the document shows it, continuation lines and all; or Python code
    expected: str | None  # None: Python, whose output is not compared

    @property
    def command(self) -> str:
        if self.expected is None:
            return f"python - <<'PY'\n{self.shown}PY"
        return self.shown.removeprefix("$ ").replace("\\\n", "")


def blocks(markdown: str) -> list[list[Step]]:
    return [_block_steps(block) for block in RUNNABLE.finditer(markdown)]


def _block_steps(block: re.Match[str]) -> list[Step]:
    return _steps(block[2]) if block[1] == "console" else [Step(block[2], None)]


def steps(markdown: str) -> list[Step]:
    return [step for block in blocks(markdown) for step in block]


def _steps(block: str) -> list[Step]:
    found: list[Step] = []
    lines = block.splitlines()
    while lines:
        shown = [lines.pop(0)]
        while shown[-1].endswith("\\"):
            shown.append(lines.pop(0))
        output = []
        while lines and not lines[0].startswith("$ "):
            output.append(lines.pop(0))
        found.append(Step("\n".join(shown), "\n".join(output)))
    return found


def rewrite(markdown: str, outputs: list[str]) -> str:
    """`markdown` with each runnable command's output replaced, in order, by `outputs`."""
    remaining = iter(outputs)

    def block(match: re.Match[str]) -> str:
        if match[1] == "python":
            next(remaining)
            return match[0]
        lines = [line for step in _steps(match[2]) for line in (step.shown, next(remaining).rstrip("\n")) if line]
        return "<!-- runnable -->\n```console\n" + "\n".join(lines) + "\n```"

    return RUNNABLE.sub(block, markdown)


def normalized(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


RUNNABLE_DOCS = [path for path in DOCS if steps(path.read_text())]


def test_runnable_blocks_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in RUNNABLE_DOCS}
    assert {"README.md", "docs/cli.md"} <= names


@pytest.mark.parametrize("path", RUNNABLE_DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_commands_run_as_written(path: Path, server: str, tmp_path: Path) -> None:
    environment = {**os.environ, "IPAM_SERVER": server, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    environment.pop("IPAM_TOKEN", None)
    outputs = []
    for step in steps(path.read_text()):
        done = subprocess.run(
            ["bash", "-c", step.command],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        outputs.append(done.stdout)
        if step.expected is None:
            assert done.returncode == 0, f"{step.shown}\n{done.stdout}"
        if step.expected is None or os.environ.get("IPAM_DOCS_UPDATE"):
            continue
        shown_failure = "error:" in step.expected
        assert done.returncode == 0 or (shown_failure and done.returncode == 1), f"$ {step.command}\n{done.stdout}"
        assert normalized(done.stdout) == normalized(step.expected), f"$ {step.command}"
    if os.environ.get("IPAM_DOCS_UPDATE"):
        path.write_text(rewrite(path.read_text(), outputs))


def test_every_admin_command_has_an_example() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    shown = {m[1] for m in re.finditer(r"<!-- example: ipam ([\w-]+)", text)}
    assert ADMIN_COMMANDS - shown == set()


# Sentences about who did what when, rather than about the software: first person, sessions,
# work items. Code is left out (`-I` is an option, not a pronoun).
NOTEBOOK = re.compile(
    r"(?<![\w/-])I(?= [a-z]|'[a-z])|\b(we|We|our|Our|my|My)\b|(?i:\bsessions?\b|work items?|issue \d+)|superseded"
)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_lab_notebook(path: Path) -> None:
    prose = CODE.sub("", path.read_text())
    found = [line for line in prose.splitlines() if NOTEBOOK.search(line)]
    assert found == []


def test_ci_installs_as_the_readme_says() -> None:
    """The README's first two code blocks are the set-up: run the server, run the tests. .ci/run runs
    the second, its final `pytest` once per database."""
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    install = ci[ci.index('step "install (README)"') + 1]
    first, second = re.findall(r"^```[^\n]*\n(.*?)^```", (ROOT / "README.md").read_text(), re.MULTILINE | re.DOTALL)[:2]
    assert first.strip().endswith("&& ipam serve")
    assert second.strip() == f"{install} && pytest"


def test_cni_md_lists_every_config_key() -> None:
    from ipam_cni.config import IPAM_KEYS

    table = re.findall(r"^\| `([\w_]+)`(?: / `([\w_]+)`)? \|", (ROOT / "docs" / "cni.md").read_text(), re.MULTILINE)
    assert {key for row in table for key in row if key} == set(IPAM_KEYS)
