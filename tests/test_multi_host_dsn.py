"""A multi-host database URL, as used with PostgreSQL high availability: libpq tries each host in
turn and, with target_session_attrs=read-write, settles on the primary."""

from __future__ import annotations

from processes import ServerProcessFactory, free_port
from sqlalchemy.engine import make_url

from ipam_client import AddressSpec, IpamClient


def multi_host_url(database_url: str) -> str:
    """The test database's URL with a dead host listed before the live one."""
    url = make_url(database_url)
    live = f"{url.host}:{url.port or 5432}" if url.host else str(url.query["host"])
    hosts = [("host", f"127.0.0.1:{free_port()}"), ("host", live), ("target_session_attrs", "read-write")]
    multi = url.set(host=None, port=None).difference_update_query(["host"]).update_query_pairs(hosts)
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
