"""A private dockerd for tests and benchmarks (Debian's docker.io, run as root).

Everything of it lives under one temporary directory (data, exec root, API socket, its own
containerd) and its containerd namespaces are its own, so it does not touch a system dockerd.
Only the plugin directory is shared: dockerd looks for plugins in /run/docker/plugins, so each
session uses a plugin name of its own. The image `ipam-test-busybox` is a `docker import` of
busybox-static with a few applet links.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

IMAGE = "ipam-test-busybox"
APPLETS = ("sh", "ip", "sleep", "true", "cat")
START_SECONDS = 60.0
STOP_SECONDS = 60.0


class DockerUnavailable(Exception):
    """This machine cannot run a private dockerd (not root, docker.io or busybox-static missing)."""


def check_machine() -> None:
    missing = [tool for tool in ("dockerd", "docker") if shutil.which(tool) is None]
    if missing:
        raise DockerUnavailable(f"{', '.join(missing)} not installed (apt-get install docker.io)")
    if not Path("/bin/busybox").exists():
        raise DockerUnavailable("/bin/busybox not installed (apt-get install busybox-static)")
    if os.geteuid() != 0:
        raise DockerUnavailable("dockerd needs root")


class DockerDaemon:
    def __init__(self) -> None:
        check_machine()
        self.root = Path(tempfile.mkdtemp(prefix="dkd-"))  # short: unix socket paths have a limit
        self.socket = self.root / "docker.sock"
        self.namespace = f"ipamtest{os.getpid()}"
        self.process: subprocess.Popen[bytes] | None = None
        self._starts = 0

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        (self.root / "pid").unlink(missing_ok=True)
        _forget_dead_containerd(self.root / "exec" / "containerd" / "containerd.pid")
        log = (self.root / f"dockerd-{self._starts}.log").open("wb")
        self._starts += 1
        command = [
            "dockerd",
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--pidfile={self.root / 'pid'}",
            f"--host=unix://{self.socket}",
            f"--containerd-namespace={self.namespace}",
            f"--containerd-plugins-namespace={self.namespace}p",
        ]
        with log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while self.docker("version", check=False).returncode != 0:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not answer within {START_SECONDS}s:\n{self.log()}")
            time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop dockerd (SIGKILL leaves its containers running under their shims)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def destroy(self) -> None:
        """Stop dockerd and its containerd, and remove everything it wrote."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.clean()
        self.stop()
        _kill_leftovers(self.root)
        # Network namespaces of containers a killed dockerd never cleaned up are still mounted.
        mounts = [*(self.root / "exec" / "netns").glob("*"), self.root / "data"]
        for mount in mounts:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        logs = sorted(self.root.glob("dockerd-*.log"))
        return logs[-1].read_text(errors="replace")[-5000:] if logs else ""

    # -- the docker command -------------------------------------------------------------------

    def docker(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", f"--host=unix://{self.socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def import_busybox(self) -> None:
        """The test image: /bin/busybox (static) with links for a few applets."""
        archive = self.root / "busybox.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add("/bin/busybox", arcname="bin/busybox")
            for applet in APPLETS:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type = tarfile.SYMTYPE
                link.linkname = "busybox"
                tar.addfile(link)
        self.docker("import", str(archive), f"{IMAGE}:latest")

    def clean(self) -> None:
        """Remove every container and every user-defined network."""
        containers = self.docker("ps", "-aq").stdout.split()
        if containers:
            self.docker("rm", "-f", *containers)
        self.docker("network", "prune", "-f")


def _forget_dead_containerd(pid_file: Path) -> None:
    """The containerd of a dockerd that was stopped or killed: wait until it has died (dockerd
    starts it with a parent-death SIGKILL, which a busy machine takes a moment to carry out);
    dockerd would take one still dying for alive and fail to connect to it. Then forget it, also
    when it lingers as a zombie nobody reaps (PID 1 of a container)."""
    deadline = time.monotonic() + STOP_SECONDS
    while (state := _state(pid_file)) not in ("Z", "X", "gone") and time.monotonic() < deadline:
        time.sleep(0.1)
    if state in ("Z", "X", "gone"):
        pid_file.unlink(missing_ok=True)


def _state(pid_file: Path) -> str:
    """The process state letter (/proc/PID/stat) of the pid in the file, or "gone"."""
    try:
        pid = int(pid_file.read_text().strip())
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return "gone"


def _kill_leftovers(root: Path) -> None:
    """containerd and shims started for this dockerd (they name its exec root on their command line)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(root) in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)
