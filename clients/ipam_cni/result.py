"""Encode ADD results, VERSION answers and errors in a given CNI spec version (standard library only).

An IPAM plugin's result has no `interfaces` and no `ips[].interface`. 0.3.x/0.4.0 add
`"version": "4"|"6"` to each ip; 1.0.0 dropped it. Route fields `mtu`, `advmss`, `priority`,
`table` and `scope` exist from 1.1.0 and are left out of older results.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from ipam_cni.config import LATEST_VERSION, SPEC_VERSIONS, SUPPORTED_VERSIONS, CniError

# Not `from typing import ...`: importing typing costs ~3 ms on every CNI call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ROUTE_FIELDS_1_1 = ("mtu", "advmss", "priority", "table", "scope")


def add_result(
    version: str,
    ips: Iterable[Mapping[str, Any]],
    routes: Iterable[Mapping[str, Any]],
    dns: Mapping[str, Any],
) -> dict[str, Any]:
    """The ADD result in `version` from the agent's ips and the config's routes and dns."""
    legacy = version in ("0.3.0", "0.3.1", "0.4.0")
    out_ips = []
    for ip in ips:
        address = ip["address"]
        entry: dict[str, Any] = {}
        if legacy:
            family = ip.get("family") or ipaddress.ip_interface(address).version
            entry["version"] = str(family)
        entry["address"] = address
        if ip.get("gateway"):
            entry["gateway"] = ip["gateway"]
        out_ips.append(entry)
    keep = ("dst", "gw", *ROUTE_FIELDS_1_1) if version == "1.1.0" else ("dst", "gw")
    out_routes = [{key: route[key] for key in keep if key in route} for route in routes]
    return {"cniVersion": version, "ips": out_ips, "routes": out_routes, "dns": dict(dns)}


def version_answer(requested: str) -> dict[str, Any]:
    """VERSION: the supported versions, in the asked version when it is a spec version."""
    version = requested if requested in SPEC_VERSIONS else LATEST_VERSION
    return {"cniVersion": version, "supportedVersions": list(SUPPORTED_VERSIONS)}


def error_result(version: str, error: CniError) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cniVersion": version if version in SUPPORTED_VERSIONS else LATEST_VERSION,
        "code": error.code,
        "msg": error.msg,
    }
    if error.details:
        out["details"] = error.details
    return out
