"""`ipam-cni install DIR`: put the fast `ipam-cni` executable into a CNI bin dir.

pip's console-script wrapper starts the interpreter with its site machinery and imports `re`;
for a program run once per container start that is most of its time. The file written here
starts this installation's interpreter with `-I -S` (no site, no environment variables, no
current directory on the path), puts only the directory holding `ipam_cni` on the path, and runs
:mod:`ipam_cni.launcher`. Run it again after upgrading or moving the installation.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import ipam_cni

DEFAULT_BIN_DIR = "/opt/cni/bin"
PLUGIN_NAME = "ipam-cni"
# Linux reads at most this much of a `#!` line (BINPRM_BUF_SIZE before 5.1).
MAX_SHEBANG = 127


class InstallError(Exception):
    """The plugin cannot be installed; the message says why."""


def launcher_source(python: str, package_root: str) -> str:
    """The text of the executable: `python` runs ipam_cni from `package_root`."""
    shebang = f"#!{python} -IS"
    if len(shebang) > MAX_SHEBANG or any(c.isspace() for c in python):
        raise InstallError(
            f"the interpreter path {python!r} cannot be used in a #! line "
            f"(no spaces, at most {MAX_SHEBANG - 5} characters): install into a shorter path"
        )
    return (
        f"{shebang}\n"
        "# ipam-cni, the CNI IPAM plugin: written by `ipam-cni install`; run that again after\n"
        "# upgrading or moving the Python installation named above.\n"
        "import sys\n"
        f"sys.path.insert(0, {package_root!r})\n"
        "from ipam_cni.launcher import main\n"
        "main()\n"
    )


def install(bin_dir: Path, name: str = PLUGIN_NAME) -> Path:
    """Write the executable atomically (a runtime may be executing the old one) and return it."""
    package_root = str(Path(ipam_cni.__file__).resolve().parent.parent)
    source = launcher_source(sys.executable, package_root)
    if not name or "/" in name or name in (".", ".."):
        raise InstallError(f"--name must be a plain file name, not {name!r}")
    if not bin_dir.is_dir():
        raise InstallError(f"{bin_dir} is not a directory (create it, or give the runtime's CNI bin dir)")
    target = bin_dir / name
    try:
        fd, temporary = tempfile.mkstemp(dir=bin_dir, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as file:
                file.write(source)
            os.chmod(temporary, 0o755)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise InstallError(f"cannot write {target}: {err.strerror or err}") from None
    return target


def build_parser() -> argparse.ArgumentParser:
    """`ipam-cni install`'s parser (also read by scripts/gen_cli_docs.py)."""
    parser = argparse.ArgumentParser(
        prog="ipam-cni",
        description="The CNI IPAM plugin. Runtimes execute it without arguments; "
        "`ipam-cni install` copies a fast launcher of it into a CNI bin dir.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="install")
    install_parser = commands.add_parser(
        "install",
        help="write the plugin executable into a CNI bin dir",
        description="Write the ipam-cni executable (started with -I -S, only this installation on its "
        "path) into a CNI bin dir, replacing any file of that name atomically.",
    )
    install_parser.add_argument(
        "bin_dir", nargs="?", default=DEFAULT_BIN_DIR, help=f"the runtime's CNI bin dir (default: {DEFAULT_BIN_DIR})"
    )
    install_parser.add_argument("--name", default=PLUGIN_NAME, help=f"file name (default: {PLUGIN_NAME})")
    return parser


def command_line(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        target = install(Path(args.bin_dir), args.name)
    except InstallError as err:
        print(f"ipam-cni: error: {err}", file=sys.stderr)
        return 1
    print(f"installed {target}")
    return 0
