"""`ipam-cni install DIR`: put the fast `ipam-cni` executable into a CNI bin dir.

pip's console-script wrapper starts the interpreter with its site machinery and imports `re`;
for a program run once per container start that is most of its time. The Python launcher written
here starts this installation's interpreter with `-I -S` (no site, no environment variables, no
current directory on the path), puts only the directory holding `ipam_cni` on the path, and runs
:mod:`ipam_cni.launcher`. Even so the interpreter's start-up is most of an ADD: when a C compiler
is at hand (`$CC`, else `cc`, else `gcc`), the plugin file is the native launcher compiled from
launcher.c, which forwards to the agent itself and executes the Python launcher, written beside it
as `.<name>-python` (a hidden file: runtimes only execute `DIR/<type>`), for everything else. Run
it again after upgrading or moving the installation.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import ipam_cni

DEFAULT_BIN_DIR = "/opt/cni/bin"
PLUGIN_NAME = "ipam-cni"
# Linux reads at most this much of a `#!` line (BINPRM_BUF_SIZE before 5.1).
MAX_SHEBANG = 127
LAUNCHERS = ("auto", "native", "python")
LAUNCHER_C = Path(__file__).with_name("launcher.c")
COMPILE_TIMEOUT = 300.0


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


class Installed(NamedTuple):
    """What `install` wrote."""

    path: Path  # the plugin executable
    launcher: str  # "native" or "python"
    note: str | None = None  # why the Python launcher was installed in auto mode


def python_launcher_name(name: str) -> str:
    """The Python launcher's file name beside a native launcher `name` (hidden: runtimes execute
    only `DIR/<type>`)."""
    return f".{name}-python"


def install(bin_dir: Path, name: str = PLUGIN_NAME, launcher: str = "auto") -> Installed:
    """Write the executable atomically (a runtime may be executing the old one): the native
    launcher with the Python launcher beside it, or the Python launcher alone."""
    if launcher not in LAUNCHERS:
        raise InstallError(f"--launcher must be one of {', '.join(LAUNCHERS)}, not {launcher!r}")
    package_root = str(Path(ipam_cni.__file__).resolve().parent.parent)
    source = launcher_source(sys.executable, package_root).encode()
    if not name or "/" in name or name in (".", ".."):
        raise InstallError(f"--name must be a plain file name, not {name!r}")
    if not bin_dir.is_dir():
        raise InstallError(f"{bin_dir} is not a directory (create it, or give the runtime's CNI bin dir)")
    target = bin_dir / name
    beside = bin_dir / python_launcher_name(name)
    note = None
    if launcher != "python":
        compiler, why = find_compiler()
        if compiler is not None:
            _write(beside, source)
            try:
                _compile(compiler, target, beside.absolute())
                return Installed(target, "native")
            except InstallError as err:
                why = str(err)
        if launcher == "native":
            raise InstallError(f"cannot install the native launcher: {why}")
        note = why
    _write(target, source)
    try:
        beside.unlink(missing_ok=True)  # a native launcher's, now unused
    except OSError as err:
        raise InstallError(f"cannot remove {beside}: {err.strerror or err}") from None
    return Installed(target, "python", note)


def find_compiler() -> tuple[list[str] | None, str]:
    """The C compiler's command (`$CC`, else `cc`, else `gcc` on PATH), or None and why not."""
    cc = os.environ.get("CC", "").strip()
    if cc:
        command = shlex.split(cc)
        if shutil.which(command[0]) is None:
            return None, f"the C compiler CC={cc!r} is not found"
        return command, ""
    for candidate in ("cc", "gcc"):
        found = shutil.which(candidate)
        if found is not None:
            return [found], ""
    return None, "no C compiler (CC unset, neither cc nor gcc on PATH)"


def c_string(path: Path) -> str:
    """`path` as a C string literal (octal escapes: no trigraph, no hex digits run on)."""
    out = []
    for byte in os.fsencode(path):
        char = chr(byte)
        out.append(char if 0x20 <= byte < 0x7F and char not in '"\\?' else f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _compile(compiler: list[str], target: Path, python_launcher: Path) -> None:
    """Compile launcher.c into `target` (through a temporary file beside it) to execute
    `python_launcher`."""
    if not LAUNCHER_C.is_file():
        raise InstallError(f"{LAUNCHER_C} is missing from this installation")
    with _atomically(target) as temporary:
        command = [
            *compiler,
            "-std=gnu99",
            "-O2",
            f"-DIPAM_CNI_PYTHON_LAUNCHER={c_string(python_launcher)}",
            "-o",
            str(temporary),
            str(LAUNCHER_C),
        ]
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, errors="replace", timeout=COMPILE_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InstallError(f"{compiler[0]} failed: {err}") from None
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if line.strip()]
            first = next((line for line in lines if "error" in line), lines[0] if lines else "")
            raise InstallError(f"{compiler[0]} failed (exit {proc.returncode}): {first.strip()[:300]}")


@contextlib.contextmanager
def _atomically(target: Path) -> Iterator[Path]:
    """A temporary file beside `target` to fill, then made executable and renamed over `target`;
    removed if filling it fails."""
    temporary = _temporary(target)
    try:
        yield temporary
        _replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _temporary(target: Path) -> Path:
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as err:
        raise InstallError(f"cannot write {target}: {err.strerror or err}") from None
    os.close(fd)
    return Path(temporary)


def _replace(temporary: Path, target: Path) -> None:
    try:
        os.chmod(temporary, 0o755)
        os.replace(temporary, target)
    except OSError as err:
        raise InstallError(f"cannot write {target}: {err.strerror or err}") from None


def _write(target: Path, data: bytes) -> None:
    """Write an executable file atomically."""
    with _atomically(target) as temporary:
        try:
            temporary.write_bytes(data)
        except OSError as err:
            raise InstallError(f"cannot write {target}: {err.strerror or err}") from None


def build_parser() -> argparse.ArgumentParser:
    """`ipam-cni install`'s parser (also read by scripts/gen_cli_docs.py)."""
    parser = argparse.ArgumentParser(
        prog="ipam-cni",
        description="The CNI IPAM plugin. Runtimes execute it without arguments; "
        "`ipam-cni install` writes a fast launcher of it into a CNI bin dir.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="install")
    install_parser = commands.add_parser(
        "install",
        help="write the plugin executable into a CNI bin dir",
        description="Write the ipam-cni executable into a CNI bin dir, replacing any file of that name "
        "atomically: the native launcher compiled from launcher.c when a C compiler is at hand ($CC, else cc, "
        "else gcc), with the Python launcher (started with -I -S, only this installation on its path) beside "
        "it as .NAME-python; else the Python launcher itself.",
    )
    install_parser.add_argument(
        "bin_dir", nargs="?", default=DEFAULT_BIN_DIR, help=f"the runtime's CNI bin dir (default: {DEFAULT_BIN_DIR})"
    )
    install_parser.add_argument("--name", default=PLUGIN_NAME, help=f"file name (default: {PLUGIN_NAME})")
    install_parser.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="auto",
        help="native: compile launcher.c (an error without a working C compiler); python: the Python launcher "
        "only; auto: native when a C compiler works, else python, saying why (default: auto)",
    )
    return parser


def command_line(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        installed = install(Path(args.bin_dir), args.name, args.launcher)
    except InstallError as err:
        print(f"ipam-cni: error: {err}", file=sys.stderr)
        return 1
    print(describe(installed))
    return 0


def describe(installed: Installed) -> str:
    """The line `ipam-cni install` prints."""
    if installed.launcher == "native":
        beside = installed.path.parent / python_launcher_name(installed.path.name)
        return f"installed {installed.path} (native launcher; Python launcher {beside})"
    if installed.note:
        return f"installed {installed.path} (Python launcher: {installed.note})"
    return f"installed {installed.path} (Python launcher)"
