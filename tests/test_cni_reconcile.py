"""What the agent's CNI reconciliation counts as a gone network namespace (real paths on this
machine; the whole round trip with the bridge plugin is in test_cni_bridge.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ipam_agent.cni_reconcile import netns_gone


def test_a_missing_path_in_a_visible_directory_is_gone(tmp_path: Path) -> None:
    present = tmp_path / "netns-present"
    present.touch()
    assert not netns_gone(str(present))
    assert netns_gone(str(tmp_path / "netns-removed"))


def test_a_path_whose_directory_the_agent_cannot_see_is_kept(tmp_path: Path) -> None:
    # E.g. an agent in a mount namespace without the runtime's netns directory.
    assert not netns_gone(str(tmp_path / "not-mounted" / "netns-1"))


def test_a_proc_path_is_gone_with_its_process() -> None:
    assert not netns_gone(f"/proc/{os.getpid()}/ns/net")
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    exited = int(child.stdout)
    assert not os.path.exists(f"/proc/{exited}")
    assert netns_gone(f"/proc/{exited}/ns/net")
