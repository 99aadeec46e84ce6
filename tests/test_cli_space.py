"""`ipam space` driven as a subprocess against a real server."""

from __future__ import annotations

import json

from cli_checks import Cli


def test_space_create_list_delete(ipam_cli: Cli) -> None:
    created = ipam_cli("space", "create", "tenant-a", "--description", "Tenant A")
    assert created.returncode == 0, created.stderr
    assert "tenant-a" in created.stdout and "Tenant A" in created.stdout
    listed = ipam_cli("space", "list", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["default", "tenant-a"]
    assert ipam_cli("space", "list", "--limit", "1", "-o", "json").stdout.count('"name"') == 1
    deleted = ipam_cli("space", "delete", "tenant-a")
    assert deleted.returncode == 0 and "deleted" in deleted.stdout


def test_space_errors_are_one_line_with_distinct_exit_codes(ipam_cli: Cli) -> None:
    ipam_cli("space", "create", "dup")
    duplicate = ipam_cli("space", "create", "dup")
    assert (duplicate.returncode, duplicate.stderr) == (1, 'ipam: error: address space "dup" already exists\n')
    usage = ipam_cli("space", "create")
    assert usage.returncode == 2 and "required: name" in usage.stderr
    unreachable = ipam_cli("space", "list", "--server", "127.0.0.1:1", "--timeout", "1")
    assert unreachable.returncode == 3
    assert unreachable.stderr.startswith("ipam: error: cannot reach IPAM server at 127.0.0.1:1")
    assert "Traceback" not in duplicate.stderr + usage.stderr + unreachable.stderr
