"""A PostgreSQL cluster under Patroni for tests: one etcd and two PostgreSQL 15 nodes on 127.0.0.1.

Everything lives in one temporary directory and on free ports, so it never meets the machine's own
PostgreSQL. As root (CI) Patroni and PostgreSQL run as the `postgres` user, as the Debian packages
expect. The timings are the smallest Patroni accepts (ttl >= loop_wait + 2 * retry_timeout), so
that a lost primary is replaced within seconds; docs/high-availability.md explains them.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from processes import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "ipam"
# Patroni's ttl, loop_wait and retry_timeout; IPAM_TEST_PATRONI_TIMING="30,10,10" (Patroni's
# defaults) measures a failover with others.
TTL, LOOP_WAIT, RETRY_TIMEOUT = (int(s) for s in os.environ.get("IPAM_TEST_PATRONI_TIMING", "6,1,2").split(","))
STARTUP_SECONDS = 90.0


class ClusterUnavailable(Exception):
    """This machine cannot run the cluster (a package is missing)."""


@dataclass
class Node:
    name: str
    pg_port: int
    api_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


@dataclass
class PatroniCluster:
    root: Path
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    nodes: list[Node] = field(default_factory=list)
    etcd: subprocess.Popen[bytes] | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        for tool in (PG_BIN / "postgres", Path("/usr/bin/patroni"), Path("/usr/bin/etcd")):
            if not tool.exists():
                raise ClusterUnavailable(f"{tool} is missing (apt-get install patroni etcd-server postgresql-15)")
        self._start_etcd()
        self.nodes = [Node(f"pg{i}", free_port(), free_port()) for i in range(2)]
        for node in self.nodes:
            self._write_config(node)
            self.start_patroni(node)
            if node is self.nodes[0]:
                self.wait_for(lambda: self.leader() is not None, "a leader")
        self.wait_for(self.synchronous_standby_ready, "a streaming synchronous standby")

    def stop(self) -> None:
        """Stop everything started, gracefully first; never raises."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                _wait_or_kill(node.process, 30)
        for node in self.nodes:
            _kill_postmaster(self.data_dir(node))
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.terminate()
            _wait_or_kill(self.etcd, 10)
        shutil.rmtree(self.root, ignore_errors=True)

    def start_patroni(self, node: Node) -> None:
        log = (self.root / f"{node.name}.log").open("ab")
        node.process = subprocess.Popen(
            ["/usr/bin/patroni", str(self.root / f"{node.name}.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=_server_user(),
            cwd=self.root,
            env={**os.environ, "PATH": f"{PG_BIN}:{os.environ.get('PATH', '')}"},
        )
        log.close()

    # --- what the test looks at and does ----------------------------------------------------------

    def url(self) -> str:
        """Every node's address in one URL; libpq picks the primary."""
        hosts = "&".join(f"host=127.0.0.1:{node.pg_port}" for node in self.nodes)
        return f"postgresql+psycopg://postgres@/{DATABASE}?{hosts}&target_session_attrs=read-write"

    def node_url(self, node: Node, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{node.pg_port}/{database}"

    def members(self) -> list[dict[str, object]]:
        for node in self.nodes:
            try:
                members: list[dict[str, object]] = self._get(node, "/cluster")["members"]
                return members
            except OSError:
                continue
        return []

    def leader(self) -> Node | None:
        for member in self.members():
            if member.get("role") == "leader" and member.get("state") == "running":
                return self.node(str(member["name"]))
        return None

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def synchronous_standby_ready(self) -> bool:
        return any(
            m.get("role") == "sync_standby" and m.get("state") in ("streaming", "running") for m in self.members()
        )

    def switchover(self, leader: Node, candidate: Node) -> None:
        body = json.dumps({"leader": leader.name, "candidate": candidate.name}).encode()
        request = urllib.request.Request(f"{leader.api}/switchover", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as reply:
            if reply.status != 200:
                raise RuntimeError(f"switchover refused: {reply.status} {reply.read()!r}")

    def kill_node(self, node: Node) -> None:
        """The machine of `node` dies: Patroni and the postmaster are killed with SIGKILL."""
        assert node.process is not None
        node.process.kill()
        node.process.wait()
        _kill_postmaster(self.data_dir(node))

    def kill_postmaster(self, node: Node) -> None:
        """PostgreSQL crashes under a running Patroni."""
        _kill_postmaster(self.data_dir(node))

    def postmaster_pid(self, node: Node) -> int | None:
        return _postmaster_pid(self.data_dir(node))

    def data_dir(self, node: Node) -> Path:
        return self.root / node.name / "data"

    def wait_for(self, condition: Callable[[], bool], what: str, seconds: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise RuntimeError(f"patroni cluster: no {what} within {seconds:.0f}s\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.root.glob("*.log"))
        )

    # --- setup ----------------------------------------------------------------------------------

    def _start_etcd(self) -> None:
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        client = f"http://127.0.0.1:{self.etcd_port}"
        log = (self.root / "etcd.log").open("wb")
        self.etcd = subprocess.Popen(
            [
                "/usr/bin/etcd",
                "--name=etcd0",
                f"--data-dir={self.root / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=etcd0={peer}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=2) as reply:
                    return bool(json.loads(reply.read()).get("health") == "true")
            except OSError:
                return False

        self.wait_for(healthy, "healthy etcd", 30)

    def _write_config(self, node: Node) -> None:
        (self.root / node.name).mkdir(mode=0o700)
        _give_to_server_user(self.root / node.name)
        config = {
            "scope": "ipam-test",
            "name": node.name,
            "log": {"level": "INFO"},
            "restapi": {"listen": f"127.0.0.1:{node.api_port}", "connect_address": f"127.0.0.1:{node.api_port}"},
            "etcd3": {"hosts": [f"127.0.0.1:{self.etcd_port}"]},
            "bootstrap": {
                "dcs": {
                    "ttl": TTL,
                    "loop_wait": LOOP_WAIT,
                    "retry_timeout": RETRY_TIMEOUT,
                    "maximum_lag_on_failover": 1048576,
                    "synchronous_mode": True,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "parameters": {"wal_log_hints": "on", "max_connections": 100, "wal_keep_size": "64MB"},
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
                "post_bootstrap": str(self._write_post_bootstrap()),
            },
            "postgresql": {
                "listen": f"127.0.0.1:{node.pg_port}",
                "connect_address": f"127.0.0.1:{node.pg_port}",
                "data_dir": str(self.data_dir(node)),
                "bin_dir": str(PG_BIN),
                # Without a fast checkpoint the standby's base backup waits for the next timed one (minutes).
                "basebackup": [{"checkpoint": "fast"}],
                "pgpass": str(self.root / node.name / "pgpass"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "postgres"},
                    "replication": {"username": "replicator", "password": "replicator"},
                    "rewind": {"username": "postgres", "password": "postgres"},
                },
                "parameters": {"unix_socket_directories": str(self.root / node.name)},
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
            "tags": {"nofailover": False, "noloadbalance": False, "clonefrom": False, "nosync": False},
        }
        # JSON is YAML.
        path = self.root / f"{node.name}.yml"
        path.write_text(json.dumps(config, indent=2))
        _give_to_server_user(path)

    def _write_post_bootstrap(self) -> Path:
        script = self.root / "post-bootstrap.sh"
        if not script.exists():
            script.write_text(f'#!/bin/sh\nexec "{PG_BIN}/psql" "$1" -c "CREATE DATABASE {DATABASE}"\n')
            script.chmod(0o755)
        return script

    def _get(self, node: Node, path: str) -> Any:
        with urllib.request.urlopen(f"{node.api}{path}", timeout=2) as reply:
            return json.loads(reply.read())


def new_cluster() -> PatroniCluster:
    """An unstarted cluster in a fresh directory the server user can enter (not under pytest's tmp_path:
    see conftest.postgres_tmp_path)."""
    root = Path(tempfile.mkdtemp(prefix="ipam-patroni-"))
    root.chmod(0o755)
    _give_to_server_user(root)
    return PatroniCluster(root)


def _give_to_server_user(path: Path) -> None:
    user = _server_user()
    if user is not None:
        shutil.chown(path, user, user)


def _server_user() -> str | None:
    """As root, PostgreSQL refuses to run: use the `postgres` account."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterUnavailable("running as root needs a `postgres` user (apt-get install postgresql-15)") from exc
    return "postgres"


def _wait_or_kill(process: subprocess.Popen[bytes], seconds: float) -> None:
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _kill_postmaster(data_dir: Path) -> None:
    """SIGKILL the postmaster of `data_dir`, if one runs (its pid is the first line of postmaster.pid)."""
    pid = _postmaster_pid(data_dir)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    # Its backends notice the postmaster's death and exit; wait until the port is free again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
