"""`ipam show-ip` driven as a subprocess against a real server."""

from __future__ import annotations

import ipaddress
import json

import pytest
import yaml
from cli_checks import Cli, one_error_line

from ipam.cli import main
from ipam.cli.show_ip import address_role
from ipam_client import AddressSpec, IpamClient, pb
from ipam_client._pb.ipam.v1 import ipam_pb2


def test_show_ip_pool_subnet_host_lease_and_roles(ipam_cli: Cli, server: str) -> None:
    with IpamClient(server) as ipam:
        ipam.create_pool("v4", "10.3.0.0/16", 24, reserved_cidrs=["10.3.1.128/25"], cooldown_seconds=3600)
        ipam.register_host("node-1")
        lease = ipam.allocate("node-1", "c1", "eth0", [AddressSpec(pool="v4")], {"app": "web"}).leases[0]
        address = lease.address

        held = ipam_cli("show-ip", address, "-o", "json")
        assert held.returncode == 0, held.stderr
        report = json.loads(held.stdout)
        assert {k: report[k] for k in ("address", "space", "in_pool", "role", "lease_state", "cooldown_until")} == {
            "address": address,
            "space": "default",
            "in_pool": True,
            "role": "assignable",
            "lease_state": "active",
            "cooldown_until": None,
        }
        assert report["pool"]["name"] == "v4" and report["pool"]["cidr"] == "10.3.0.0/16"
        assert (report["subnet"]["cidr"], report["subnet"]["host"], report["subnet"]["gateway"]) == (
            "10.3.0.0/24",
            "node-1",
            "10.3.0.1",
        )
        assert report["lease"]["owner_id"] == "c1" and report["lease"]["allocate_time"]

        table = ipam_cli("show-ip", address)
        assert table.returncode == 0, table.stderr
        assert f"address:    {address} (address space default)\n" in table.stdout
        assert "pool:       v4 10.3.0.0/16\n" in table.stdout
        assert "subnet:     10.3.0.0/24 of host node-1\n" in table.stdout
        assert "gateway:    10.3.0.1\n" in table.stdout
        assert "role:       assignable\n" in table.stdout
        assert "lease:      active, held by c1/eth0 on host node-1 since 20" in table.stdout
        assert "attributes: app=web\n" in table.stdout

        gateway = yaml.safe_load(ipam_cli("show-ip", "10.3.0.1", "-o", "yaml").stdout)
        assert (gateway["role"], gateway["lease_state"], gateway["lease"]) == ("gateway", "never_leased", None)
        broadcast = ipam_cli("show-ip", "10.3.0.255")
        assert "role:    the host subnet's broadcast address (never leased)" in broadcast.stdout
        assert "lease:   none: never leased" in broadcast.stdout
        reserved = ipam_cli("show-ip", "10.3.1.200")
        assert "subnet:  none: no host subnet holds it yet" in reserved.stdout
        assert "role:    reserved by the pool (never leased), inside reserved 10.3.1.128/25" in reserved.stdout

        ipam.release_owner("c1", "eth0")
    released = ipam_cli("show-ip", address, "-o", "json")
    report = json.loads(released.stdout)
    assert report["lease_state"] == "released" and report["cooldown_until"].endswith("Z")
    assert report["lease"]["release_time"]
    released_table = ipam_cli("show-ip", address)
    assert "lease:      in cooldown until 20" in released_table.stdout
    assert "last held by c1/eth0 on host node-1" in released_table.stdout


def test_show_ip_outside_every_pool_and_failures(ipam_cli: Cli, server: str) -> None:
    with IpamClient(server) as ipam:
        ipam.create_pool("v4", "10.3.0.0/16", 24)

    outside = ipam_cli("show-ip", "192.168.1.1")
    assert (outside.returncode, outside.stderr) == (0, "")
    assert 'pool:    not in any pool of address space "default"' in outside.stdout
    as_json = json.loads(ipam_cli("show-ip", "192.168.1.1", "-o", "json").stdout)
    assert (as_json["in_pool"], as_json["pool"], as_json["role"], as_json["lease_state"]) == (
        False,
        None,
        None,
        "never_leased",
    )

    bad = ipam_cli("show-ip", "10.3.0.300")
    assert one_error_line(bad, 1) == "ipam: error: address: '10.3.0.300' is not a valid IP address"
    unknown_space = ipam_cli("show-ip", "10.3.0.5", "--space", "nope")
    assert "nope" in one_error_line(unknown_space, 1)
    usage = ipam_cli("show-ip")
    assert usage.returncode == 2 and "required: address" in usage.stderr
    unreachable = ipam_cli("show-ip", "10.3.0.5", "--server", "127.0.0.1:1", "--timeout", "1")
    assert one_error_line(unreachable, 3).startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")


def _pool(
    cidr: str,
    prefix: int,
    *,
    policy: ipam_pb2.GatewayPolicy = pb.GATEWAY_POLICY_FIRST_USABLE,
    reserved: tuple[str, ...] = (),
) -> pb.Pool:
    return pb.Pool(name="p", cidr=cidr, host_prefix_length=prefix, gateway_policy=policy, reserved_cidrs=reserved)


@pytest.mark.parametrize(
    ("address", "pool", "subnet", "role"),
    [
        ("10.0.1.0", _pool("10.0.0.0/16", 24), None, "network"),
        ("10.0.1.1", _pool("10.0.0.0/16", 24), None, "gateway"),
        ("10.0.1.1", _pool("10.0.0.0/16", 24, policy=pb.GATEWAY_POLICY_NONE), None, "assignable"),
        ("10.0.1.255", _pool("10.0.0.0/16", 24), None, "broadcast"),
        ("10.0.1.7", _pool("10.0.0.0/16", 24, reserved=("10.0.1.0/29",)), None, "reserved"),
        ("10.0.1.8", _pool("10.0.0.0/16", 24, reserved=("10.0.1.0/29",)), None, "assignable"),
        ("10.0.1.1", _pool("10.0.0.0/16", 24), pb.HostSubnet(cidr="10.0.1.0/24", gateway=""), "assignable"),
        ("fd00::", _pool("fd00::/48", 64), None, "network"),
        ("fd00::1", _pool("fd00::/48", 64), None, "gateway"),
        ("fd00::ffff:ffff:ffff:ffff", _pool("fd00::/48", 64), None, "assignable"),  # no broadcast in IPv6
    ],
)
def test_address_role(address: str, pool: pb.Pool, subnet: pb.HostSubnet | None, role: str) -> None:
    assert address_role(ipaddress.ip_address(address), pool, subnet)[0] == role


def test_show_ip_help_explains_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["show-ip", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "not in any pool" in text and "exit status is 0" in text and "ipam show-ip 10.1.0.20" in text
