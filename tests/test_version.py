"""`ipam --version` and `ipam-agent --version` print the installed package's version."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

# The console scripts of this environment, not whatever else is on PATH.
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(("command", "package"), [("ipam", "ipam-registry"), ("ipam-agent", "ipam-registry-client")])
def test_version(command: str, package: str) -> None:
    executable = shutil.which(command, path=str(BIN))
    assert executable, f"{command} is not installed next to {sys.executable}"
    done = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{command} {version(package)}\n", "")
