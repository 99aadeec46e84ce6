"""A multi-host database URL, as used with PostgreSQL high availability: libpq tries each host in
turn and, with target_session_attrs=read-write, settles on the primary."""

from __future__ import annotations

from processes import ServerProcessFactory, free_port
from registry_checks import Watch, head_revision, kinds
from sqlalchemy.engine import URL, make_url

from ipam.store.engine import make_engine
from ipam_client import AddressSpec, IpamClient


def multi_host_url(database_url: str) -> str:
    """The test database's URL with a dead host listed before the live one."""
    url = make_url(database_url)
    # A TCP host, or the embedded PostgreSQL's unix socket directory; either with its port.
    host, port = (url.host, url.port) if url.host else (url.query["host"], url.query.get("port"))
    live = f"{host}:{port or 5432}"
    hosts = [("host", f"127.0.0.1:{free_port()}"), ("host", live), ("target_session_attrs", "read-write")]
    query = url.difference_update_query(["host", "port"]).query
    multi = URL.create(url.drivername, url.username, url.password, database=url.database, query=query)
    multi = multi.update_query_pairs(hosts)
    return multi.render_as_string(hide_password=False)


def test_the_server_runs_on_a_multi_host_url_whose_first_host_is_down(
    server_process_factory: ServerProcessFactory, database_url: str
) -> None:
    proc = server_process_factory("--database-url", multi_host_url(database_url))
    with IpamClient(proc.address, retries=0) as ipam:
        ipam.create_pool("p", "10.0.0.0/24", 26)
        ipam.register_host("h1")
        assert ipam.allocate("h1", "c1", "eth0", [AddressSpec(pool="p")]).leases[0].address == "10.0.0.2"
    proc.stop()
    assert "target_session_attrs=read-write" in proc.output()  # the URL is announced, without a password


def test_events_flow_on_a_multi_host_url(server_process_factory: ServerProcessFactory, database_url: str) -> None:
    """The replica's LISTEN connections (event hub, registry) use every host of the URL as the pool
    does, and libpq options given in the URL too."""
    url = multi_host_url(database_url) + "&connect_timeout=3&application_name=ipam-test"
    proc = server_process_factory("--database-url", url)
    with IpamClient(proc.address, retries=0) as ipam, IpamClient(proc.address) as watcher:
        ipam.create_pool("p", "10.0.0.0/24", 26)
        ipam.register_host("h1")
        watch = Watch(watcher, head_revision(watcher))
        ipam.allocate("h1", "c1", "eth0", [AddressSpec(pool="p")])
        assert kinds(watch.take(1)) == [("c1", "added")]
    proc.stop()
    assert "event hub:" not in proc.output()  # no "event hub: <error>; retrying"


def test_a_connect_timeout_in_the_url_is_kept(database_url: str) -> None:
    """libpq spends connect_timeout on each host in turn: the operator's value must win."""
    engine = make_engine(multi_host_url(database_url) + "&connect_timeout=2")
    try:
        with engine.connect() as conn:
            params = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert params["connect_timeout"] == "2"
    finally:
        engine.dispose()
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            params = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert params["connect_timeout"] == "5"
    finally:
        engine.dispose()
