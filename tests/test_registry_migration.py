"""Migration 0006 (the endpoint registry) on a database that already holds leases: they get endpoints and history."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from ipam.store.migrate import alembic_config, upgrade
from ipam_client import IpamClient, registry_pb


def test_leases_active_before_the_registry_get_endpoints(database_url: str, engine: Engine) -> None:
    command.downgrade(alembic_config(database_url), "0005")
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO host (name) VALUES ('h1')"))
            conn.execute(
                text(
                    "INSERT INTO pool (space_id, name, cidr, family, host_prefix_length, gateway_policy) "
                    "SELECT id, 'p4', '10.0.0.0/24', 4, 26, 'none' FROM address_space WHERE name = 'default'"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO host_subnet (pool_id, space_id, host_id, idx, cidr, next_offset, offset_limit) "
                    "SELECT p.id, p.space_id, h.id, 0, '10.0.0.0/26', 4, 63 FROM pool p, host h"
                )
            )
            conn.execute(
                text(
                    'INSERT INTO lease (subnet_id, pool_id, host_id, "offset", address, owner_id, interface, '
                    "attributes, state, released_at) SELECT s.id, s.pool_id, s.host_id, o, '10.0.0.0'::inet + o, "
                    "'c' || o, 'eth0', jsonb_build_object('K8S_POD_NAME', 'pod' || o), "
                    "CASE WHEN o = 3 THEN 'released' ELSE 'active' END, CASE WHEN o = 3 THEN now() END "
                    "FROM host_subnet s, generate_series(1, 3) o"
                )
            )
    finally:
        upgrade(database_url)
    from ipam.server.app import create_server

    server, port = create_server(engine, "127.0.0.1:0")
    try:
        with IpamClient(f"127.0.0.1:{port}", retries=0) as client:
            assert [(e.owner_id, dict(e.labels)) for e in client.iter_endpoints()] == [
                ("c1", {"io.kubernetes.pod.name": "pod1"}),
                ("c2", {"io.kubernetes.pod.name": "pod2"}),
            ]
            assert client.lookup_address("10.0.0.2").endpoint.owner_id == "c2"
            client.release_owner("c1", "eth0")
            assert [e.owner_id for e in client.iter_endpoints(state=registry_pb.ENDPOINT_STATE_DELETED)] == ["c1"]
    finally:
        server.stop(1).wait()
