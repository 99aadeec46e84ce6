"""Parse and validate what a CNI runtime hands the plugin: environment variables and stdin.

Standard library only. Every problem is a :class:`CniError` carrying the CNI error code:
4 for the environment (naming the variables), 6 for stdin that is not a JSON object, 7 for the
network config (naming the key), 1 for a cniVersion this plugin does not speak.
"""

from __future__ import annotations

import ipaddress
import json
import re

from ipam_cni.protocol import DEFAULT_SOCKET

# Not `from typing import TYPE_CHECKING`: importing typing costs ~3 ms on every CNI call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# CNI error codes (SPEC.md "Error codes" plus the generic 999 of libcni's types.ErrInternal).
CODE_INCOMPATIBLE_VERSION = 1
CODE_UNSUPPORTED_FIELD = 2
CODE_CONTAINER_UNKNOWN = 3
CODE_INVALID_ENV = 4
CODE_IO_FAILURE = 5
CODE_DECODE = 6
CODE_INVALID_CONFIG = 7
CODE_TRY_AGAIN = 11
CODE_NOT_AVAILABLE = 50
CODE_INTERNAL = 999

SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
LATEST_VERSION = SUPPORTED_VERSIONS[-1]
# Every released spec version: VERSION answers in any of these (it only asks what we support).
SPEC_VERSIONS = ("0.1.0", "0.2.0", *SUPPORTED_VERSIONS)

COMMANDS = ("ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS")
# Which variables each command needs (as in SPEC.md and libcni's skel; DEL may have no netns).
REQUIRED_ENV: dict[str, tuple[str, ...]] = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
    "VERSION": (),
}
# The lowest config version that has each command.
MIN_VERSION = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}

IPAM_KEYS = ("type", "pool", "pools", "space", "routes", "dns", "agent_socket", "server", "single_subnet")
ROUTE_KEYS = ("dst", "gw", "mtu", "advmss", "priority", "table", "scope")
ROUTE_INT_KEYS = ("mtu", "advmss", "priority", "table", "scope")
DNS_KEYS = ("nameservers", "domain", "search", "options")
K8S_ARGS = ("K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_UID", "K8S_POD_INFRA_CONTAINER_ID")
GC_KEYS = ("cni.dev/valid-attachments", "cni.dev/attachments")

# libcni's utils: network names and container ids; interface names as the kernel takes them.
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
IFNAMSIZ = 16


class CniError(Exception):
    """A CNI error result: printed as JSON on stdout, exit status 1."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details


class Environment:
    """The CNI_* variables of one invocation (CNI_ARGS parsed)."""

    __slots__ = ("args", "command", "container_id", "ifname", "netns", "path")

    def __init__(self, command: str, container_id: str, netns: str, ifname: str, args: dict[str, str], path: str):
        self.command = command
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args
        self.path = path


class IpamConfig:
    """The validated `ipam` section."""

    __slots__ = ("agent_socket", "dns", "pools", "routes", "server", "single_subnet", "space")

    def __init__(self) -> None:
        self.pools: list[str] = []
        self.space = ""
        self.routes: list[dict[str, Any]] = []
        self.dns: dict[str, Any] = {}
        self.agent_socket = DEFAULT_SOCKET
        self.server = ""
        # None: decided by the main plugin (see `single_subnet`).
        self.single_subnet: bool | None = None


class NetConfig:
    """The parts of the network config on stdin this plugin uses."""

    __slots__ = ("cni_version", "ipam", "name", "raw")

    def __init__(self, cni_version: str, name: str, ipam: IpamConfig, raw: dict[str, Any]) -> None:
        self.cni_version = cni_version
        self.name = name
        self.ipam = ipam
        self.raw = raw


# --- environment ------------------------------------------------------------------------------


def read_command(env: Mapping[str, str]) -> str:
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise CniError(CODE_INVALID_ENV, "required env variables [CNI_COMMAND] missing")
    if command not in COMMANDS:
        raise CniError(CODE_INVALID_ENV, f"unknown CNI_COMMAND: {command}", f"CNI_COMMAND must be one of {COMMANDS}")
    return command


def read_environment(command: str, env: Mapping[str, str]) -> Environment:
    """The CNI_* variables of `command`; code 4 naming every missing or invalid one."""
    missing = [name for name in REQUIRED_ENV[command] if not env.get(name)]
    if missing:
        raise CniError(CODE_INVALID_ENV, f"required env variables [{','.join(missing)}] missing")
    container_id = env.get("CNI_CONTAINERID", "")
    ifname = env.get("CNI_IFNAME", "")
    problems: list[str] = []
    if container_id and not _NAME.match(container_id):
        problems.append("CNI_CONTAINERID: invalid characters in container id")
    if ifname:
        problem = _interface_name_problem(ifname)
        if problem:
            problems.append(f"CNI_IFNAME: {problem}")
    args: dict[str, str] = {}
    try:
        args = parse_cni_args(env.get("CNI_ARGS", ""))
    except ValueError as exc:
        problems.append(f"CNI_ARGS: {exc}")
    if problems:
        names = ",".join(problem.split(":", 1)[0] for problem in problems)
        raise CniError(CODE_INVALID_ENV, f"invalid env variables [{names}]", "; ".join(problems))
    return Environment(
        command=command,
        container_id=container_id,
        netns=env.get("CNI_NETNS", ""),
        ifname=ifname,
        args=args,
        path=env.get("CNI_PATH", ""),
    )


def _interface_name_problem(name: str) -> str:
    if len(name) > IFNAMSIZ - 1:
        return f"interface name is too long ({len(name)} > {IFNAMSIZ - 1})"
    if name in (".", ".."):
        return "interface name is . or .."
    if any(char in name for char in "/:") or any(char.isspace() for char in name):
        return "interface name contains / or : or whitespace"
    return ""


def parse_cni_args(text: str) -> dict[str, str]:
    """`K=V;K2=V2` (empty parts skipped); ValueError for a part without `=`."""
    args: dict[str, str] = {}
    for part in text.split(";"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"invalid pair {part!r} (want KEY=VALUE separated by ;)")
        args[key] = value
    return args


# --- stdin ------------------------------------------------------------------------------------


def decode_stdin(data: bytes) -> dict[str, Any]:
    """The network config as a JSON object; code 6 otherwise."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CniError(CODE_DECODE, "error parsing the network config on stdin", str(exc)) from None
    if not isinstance(value, dict):
        raise CniError(CODE_DECODE, "the network config on stdin must be a JSON object", f"got {type(value).__name__}")
    return value


def config_version(conf: Mapping[str, Any]) -> str:
    """The config's cniVersion, as libcni reads it: absent means 0.1.0; not a string is code 6."""
    version = conf.get("cniVersion", "")
    if not isinstance(version, str):
        raise CniError(CODE_DECODE, "cniVersion must be a string", f"got {version!r}")
    return version or "0.1.0"


def version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (-1,)


def check_version(command: str, version: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise CniError(
            CODE_INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f"config is {version!r}, plugin supports {list(SUPPORTED_VERSIONS)}",
        )
    minimum = MIN_VERSION.get(command)
    if minimum and version_tuple(version) < version_tuple(minimum):
        raise CniError(
            CODE_INCOMPATIBLE_VERSION,
            f"config version does not allow {command}",
            f"{command} needs cniVersion {minimum} or later, config is {version}",
        )


def parse_network(conf: dict[str, Any], version: str) -> NetConfig:
    name = conf.get("name")
    if name is None or name == "":
        raise CniError(CODE_INVALID_CONFIG, "missing network name", "key: name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CniError(CODE_INVALID_CONFIG, "invalid characters found in network name", f"key: name, got {name!r}")
    return NetConfig(cni_version=version, name=name, ipam=parse_ipam(conf.get("ipam")), raw=conf)


def parse_ipam(section: Any) -> IpamConfig:
    if section is None:
        raise CniError(CODE_INVALID_CONFIG, "missing ipam section", "key: ipam")
    if not isinstance(section, dict):
        raise _bad("ipam", "must be an object", section)
    unknown = sorted(key for key in section if key not in IPAM_KEYS)
    if unknown:
        raise CniError(
            CODE_INVALID_CONFIG,
            f"unknown ipam config key {', '.join(f'ipam.{key}' for key in unknown)}",
            f"known keys: {', '.join(IPAM_KEYS)}",
        )
    ipam = IpamConfig()
    if "type" in section and not isinstance(section["type"], str):
        raise _bad("ipam.type", "must be a string", section["type"])
    if "pool" in section and "pools" in section:
        raise CniError(CODE_INVALID_CONFIG, "ipam.pool and ipam.pools are exclusive", "key: ipam.pools")
    if "pool" in section:
        ipam.pools = [_name(section["pool"], "ipam.pool")]
    if "pools" in section:
        pools = section["pools"]
        if not isinstance(pools, list) or not pools:
            raise _bad("ipam.pools", "must be a non-empty list of pool names", pools)
        ipam.pools = [_name(pool, f"ipam.pools[{index}]") for index, pool in enumerate(pools)]
        if len(set(ipam.pools)) != len(ipam.pools):
            raise _bad("ipam.pools", "names a pool twice", pools)
    if "space" in section:
        space = section["space"]
        if not isinstance(space, str):
            raise _bad("ipam.space", "must be a string", space)
        ipam.space = space
    if "agent_socket" in section:
        ipam.agent_socket = _name(section["agent_socket"], "ipam.agent_socket")
    if "server" in section:
        server = _name(section["server"], "ipam.server")
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise _bad("ipam.server", "must be HOST:PORT of the IPAM server", server)
        ipam.server = server
    if "single_subnet" in section:
        if not isinstance(section["single_subnet"], bool):
            raise _bad("ipam.single_subnet", "must be true or false", section["single_subnet"])
        ipam.single_subnet = section["single_subnet"]
    if "routes" in section:
        ipam.routes = parse_routes(section["routes"])
    if "dns" in section:
        ipam.dns = parse_dns(section["dns"])
    return ipam


def parse_routes(routes: Any) -> list[dict[str, Any]]:
    if not isinstance(routes, list):
        raise _bad("ipam.routes", "must be a list of {dst, gw} objects", routes)
    parsed = []
    for index, route in enumerate(routes):
        key = f"ipam.routes[{index}]"
        if not isinstance(route, dict):
            raise _bad(key, "must be an object with dst and optionally gw", route)
        unknown = sorted(name for name in route if name not in ROUTE_KEYS)
        if unknown:
            raise _bad(f"{key}.{unknown[0]}", f"unknown route key (known: {', '.join(ROUTE_KEYS)})", route[unknown[0]])
        if "dst" not in route:
            raise CniError(CODE_INVALID_CONFIG, f"{key}.dst is missing", f"key: {key}.dst")
        dst = route["dst"]
        try:
            if not isinstance(dst, str) or "/" not in dst:
                raise ValueError
            network = ipaddress.ip_interface(dst).network
        except ValueError:
            raise _bad(f"{key}.dst", "must be a CIDR such as 0.0.0.0/0", dst) from None
        out: dict[str, Any] = {"dst": dst}
        if "gw" in route:
            gw = _ip(route["gw"], f"{key}.gw")
            if gw.version != network.version:
                raise _bad(f"{key}.gw", f"is not of the family of dst {dst}", route["gw"])
            out["gw"] = route["gw"]
        for name in ROUTE_INT_KEYS:
            if name in route:
                value = route[name]
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise _bad(f"{key}.{name}", "must be a non-negative integer", value)
                out[name] = value
        parsed.append(out)
    return parsed


def parse_dns(dns: Any) -> dict[str, Any]:
    if not isinstance(dns, dict):
        raise _bad("ipam.dns", "must be an object with nameservers, domain, search, options", dns)
    unknown = sorted(name for name in dns if name not in DNS_KEYS)
    if unknown:
        raise _bad(f"ipam.dns.{unknown[0]}", f"unknown dns key (known: {', '.join(DNS_KEYS)})", dns[unknown[0]])
    out: dict[str, Any] = {}
    if "nameservers" in dns:
        servers = _strings(dns["nameservers"], "ipam.dns.nameservers")
        for index, server in enumerate(servers):
            _ip(server, f"ipam.dns.nameservers[{index}]")
        out["nameservers"] = servers
    if "domain" in dns:
        if not isinstance(dns["domain"], str):
            raise _bad("ipam.dns.domain", "must be a string", dns["domain"])
        out["domain"] = dns["domain"]
    for name in ("search", "options"):
        if name in dns:
            out[name] = _strings(dns[name], f"ipam.dns.{name}")
    return out


def single_subnet(net: NetConfig) -> bool:
    """Whether the host must keep to one subnet of each pool: `ipam.single_subnet` when given, else
    true for a `bridge` that is the gateway (it puts each subnet's gateway on the one bridge, and
    refuses a second: "already has an IP address different from ...")."""
    if net.ipam.single_subnet is not None:
        return net.ipam.single_subnet
    raw = net.raw
    return raw.get("type") == "bridge" and (raw.get("isGateway") is True or raw.get("isDefaultGateway") is True)


# --- requests of specific addresses, attributes, GC and CHECK input ---------------------------


def requested_addresses(conf: Mapping[str, Any], cni_args: Mapping[str, str]) -> list[str]:
    """Bare IPs asked for: runtimeConfig.ips and args.cni.ips, else CNI_ARGS IP= (comma-separated)."""
    found: list[tuple[str, Any]] = []
    runtime = conf.get("runtimeConfig")
    if runtime is not None:
        if not isinstance(runtime, dict):
            raise _bad("runtimeConfig", "must be an object", runtime)
        if runtime.get("ips") is not None:
            found += _address_list(runtime["ips"], "runtimeConfig.ips")
    args = conf.get("args")
    from_args = False
    if args is not None:
        if not isinstance(args, dict):
            raise _bad("args", "must be an object", args)
        cni = args.get("cni")
        if cni is not None:
            if not isinstance(cni, dict):
                raise _bad("args.cni", "must be an object", cni)
            if cni.get("ips") is not None:
                found += _address_list(cni["ips"], "args.cni.ips")
                from_args = True
    if not from_args and cni_args.get("IP"):
        found += [(f"CNI_ARGS IP[{index}]", part) for index, part in enumerate(cni_args["IP"].split(","))]
    addresses: list[str] = []
    for key, value in found:
        address = str(_ip_or_interface(value, key))
        if address not in addresses:
            addresses.append(address)
    return addresses


def _address_list(value: Any, key: str) -> list[tuple[str, Any]]:
    if not isinstance(value, list):
        raise _bad(key, "must be a list of addresses", value)
    return [(f"{key}[{index}]", item) for index, item in enumerate(value)]


def attributes(cni_args: Mapping[str, str]) -> dict[str, str]:
    """Lease attributes from CNI_ARGS: the Kubernetes pod's namespace, name, uid and sandbox id.

    The network's name travels as the request's `network` (the agent records it as `cni.network`)."""
    return {name: cni_args[name] for name in K8S_ARGS if cni_args.get(name)}


def prev_addresses(conf: Mapping[str, Any]) -> list[str]:
    """CIDRs of prevResult.ips (CHECK needs a prevResult)."""
    prev = conf.get("prevResult")
    if prev is None:
        raise CniError(CODE_INVALID_CONFIG, "CHECK needs prevResult", "key: prevResult")
    if not isinstance(prev, dict):
        raise _bad("prevResult", "must be an object", prev)
    ips = prev.get("ips") or []
    if not isinstance(ips, list):
        raise _bad("prevResult.ips", "must be a list", ips)
    out = []
    for index, entry in enumerate(ips):
        key = f"prevResult.ips[{index}].address"
        address = entry.get("address") if isinstance(entry, dict) else None
        if not isinstance(address, str) or "/" not in address:
            raise _bad(key, "must be an address in CIDR form", address)
        try:
            ipaddress.ip_interface(address)
        except ValueError:
            raise _bad(key, "must be an address in CIDR form", address) from None
        out.append(address)
    return out


def valid_attachments(conf: Mapping[str, Any]) -> list[dict[str, str]]:
    """GC's list of attachments to keep: cni.dev/valid-attachments, or cni.dev/attachments."""
    key = next((name for name in GC_KEYS if name in conf), None)
    if key is None:
        raise CniError(
            CODE_INVALID_CONFIG,
            "GC needs cni.dev/valid-attachments (an empty list releases every lease of the network)",
            "key: cni.dev/valid-attachments",
        )
    items = conf[key]
    if not isinstance(items, list):
        raise _bad(key, 'must be a list of {"containerID", "ifname"}', items)
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"{key}[{index}]", 'must be an object {"containerID", "ifname"}', item)
        container_id, ifname = item.get("containerID"), item.get("ifname")
        if not isinstance(container_id, str) or not container_id:
            raise _bad(f"{key}[{index}].containerID", "must be a non-empty string", container_id)
        if not isinstance(ifname, str) or not ifname:
            raise _bad(f"{key}[{index}].ifname", "must be a non-empty string", ifname)
        out.append({"container_id": container_id, "ifname": ifname})
    return out


# --- helpers ----------------------------------------------------------------------------------


def _bad(key: str, problem: str, value: Any) -> CniError:
    return CniError(CODE_INVALID_CONFIG, f"invalid {key}: {problem}", f"key: {key}, got {json.dumps(value)}")


def _name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(key, "must be a non-empty string", value)
    return value


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _bad(key, "must be a list of strings", value)
    return list(value)


def _ip(value: Any, key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        if not isinstance(value, str):
            raise ValueError
        return ipaddress.ip_address(value)
    except ValueError:
        raise _bad(key, "must be an IP address", value) from None


def _ip_or_interface(value: Any, key: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A bare IP or an address in CIDR form (runtimeConfig.ips carries 10.2.2.42/24)."""
    try:
        if not isinstance(value, str):
            raise ValueError
        return ipaddress.ip_interface(value.strip()).ip
    except ValueError:
        raise _bad(key, "must be an IP address", value) from None
