"""Docker networks through two `ipam serve` replicas on one database: four hosts' drivers (two on
each replica) join the same networks at once, lease addresses concurrently, and release some;
afterwards the database itself shows one network per subnet and no address held twice."""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from docker_plugin import Plugin, serve_plugin
from processes import ServerProcessFactory
from sqlalchemy import Engine, text

from ipam_client import IpamClient

HOSTS = ("r-a", "r-b", "r-c", "r-d")
SUBNETS = ("10.70.1.0/24", "10.70.2.0/24", "10.70.3.0/25")
ADDRESSES_PER_HOST = 12
MAC = {"com.docker.network.endpoint.macaddress": "02:42:ac:11:00:09"}


@pytest.fixture
def plugins(server_process_factory: ServerProcessFactory) -> Iterator[dict[str, Plugin]]:
    replicas = [server_process_factory(), server_process_factory()]
    with IpamClient(replicas[0].address) as ipam:
        ipam.create_pool("replicas-docker", "10.70.0.0/16", 24)
        for host in HOSTS:
            ipam.register_host(host)
    sockets = Path(tempfile.mkdtemp(prefix="dkr-"))
    try:
        with ExitStack() as stack:
            yield {
                host: stack.enter_context(
                    serve_plugin(str(sockets / f"{host}.sock"), replicas[i % 2].address, host, retries=5)
                )
                for i, host in enumerate(HOSTS)
            }
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def test_hosts_on_two_replicas_share_networks_without_collisions(plugins: dict[str, Plugin], engine: Engine) -> None:
    got: dict[str, list[str]] = {host: [] for host in HOSTS}
    pool_ids: dict[str, set[str]] = {subnet: set() for subnet in SUBNETS}
    errors: list[BaseException] = []
    start = threading.Barrier(len(HOSTS))

    def work(host: str) -> None:
        try:
            plugin = plugins[host]
            start.wait()
            for subnet in SUBNETS:
                pool_id = plugin.request_pool(subnet)["PoolID"]
                pool_ids[subnet].add(pool_id)
                gateway = str(ipaddress.ip_network(subnet).network_address + 1)
                plugin.request_address(pool_id, gateway, {"RequestAddressType": "com.docker.network.gateway"})
            for i in range(ADDRESSES_PER_HOST):
                pool_id = f"{SUBNETS[i % len(SUBNETS)]}@default"
                address = plugin.request_address(pool_id, "", MAC)
                got[host].append(address)
                if i % 3 == 0:  # release some, so that slots are reused concurrently too
                    plugin.ok("IpamDriver.ReleaseAddress", {"PoolID": pool_id, "Address": address.split("/")[0]})
                    got[host].pop()
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(host,)) for host in HOSTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert pool_ids == {s: {f"{s}@default"} for s in SUBNETS}
    held = [a.split("/")[0] for addresses in got.values() for a in addresses]
    assert len(held) == len(set(held)) == len(HOSTS) * (ADDRESSES_PER_HOST - ADDRESSES_PER_HOST // 3)
    with engine.connect() as conn:
        networks = conn.execute(text("SELECT count(*) FROM host_subnet WHERE kind = 'docker'")).scalar_one()
        members = conn.execute(text("SELECT count(*) FROM docker_network_host")).scalar_one()
        active = conn.execute(
            text("SELECT host(address), count(*) FROM lease WHERE state = 'active' GROUP BY 1 HAVING count(*) > 1")
        ).all()
        containers = (
            conn.execute(text("SELECT host(address) FROM lease WHERE state = 'active' AND interface = 'container'"))
            .scalars()
            .all()
        )
    assert (networks, members, active) == (len(SUBNETS), len(SUBNETS) * len(HOSTS), [])
    assert sorted(containers) == sorted(held)
