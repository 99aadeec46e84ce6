"""CNI reconciliation: at start-up and then every interval, release the host's CNI leases whose
container is gone, for runtimes that lose a DEL (the agent was down) and never send CNI GC.

A CNI lease records the container's network namespace (`cni.netns`, the CNI_NETNS of its ADD).
The runtime creates that namespace before ADD and removes it when the container goes, so a lease
whose namespace path has stayed missing for the grace period belongs to a container that is gone.
What cannot be judged is kept: a lease without `cni.netns` (allocated before the agent recorded
it, or not through CNI), and a namespace path whose directory the agent cannot see at all (an
agent in its own mount namespace without the runtime's netns directory).

The server releases them (ReconcileHost, recorded as runtime_gone) only when they are older
than the grace period too, so an ADD that runs while the agent lists is never touched.
Failures (the server unreachable) cost one warning line; the next interval tries again.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable

from ipam_agent.docker_reconcile import MAX_MIN_AGE_SECONDS
from ipam_agent.handlers import NETNS_ATTRIBUTE, naming, unreachable
from ipam_agent.heartbeat import Registration
from ipam_client import IpamClient, IpamClientError, pb

log = logging.getLogger("ipam_agent.cni_reconcile")

DETAIL = "CNI reconciliation: the container's network namespace is gone"
# A lease allocated after the listing is younger than the time since the listing began plus this
# (the call's own latency): the server keeps it.
LISTING_MARGIN_SECONDS = 5
Owner = tuple[str, str]


def netns_gone(path: str) -> bool:
    """Whether the namespace path is missing where the agent can see its directory: the parent
    directory (/run/netns/X), or the process (/proc/PID/ns/net) for a namespace held by a pid."""
    if os.path.lexists(path):
        return False
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "proc":
        return os.path.isdir("/proc/self") and not os.path.lexists("/".join(parts[:3]))
    return os.path.isdir(os.path.dirname(path))


class CniReconciler:
    def __init__(
        self,
        client: IpamClient,
        registration: Registration,
        grace: float,
        gone: Callable[[str], bool] = netns_gone,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.registration = registration
        self.grace = grace
        self.gone = gone
        self.clock = clock
        # When each lease's namespace was first seen missing (by this agent: a restart waits anew).
        self._missing_since: dict[Owner, float] = {}

    def run_once(self) -> list[pb.GcItem] | None:
        """What the server released, or None when the server failed (logged)."""
        started = self.clock()
        host = self.registration.host
        try:
            self.registration.ensure()
            leases = self.client.list_leases(host=host, state=pb.LEASE_STATE_ACTIVE)
        except IpamClientError as err:
            self._warn(err)
            return None
        now = self.clock()
        missing = {_owner(lease) for lease in leases if self._missing(lease)}
        self._missing_since = {key: self._missing_since.get(key, now) for key in missing}
        release = {key for key, since in self._missing_since.items() if now - since >= self.grace}
        if not release:
            return []
        keep = sorted({_owner(lease) for lease in leases} - release)
        min_age = min(MAX_MIN_AGE_SECONDS, math.ceil(max(self.grace, now - started + LISTING_MARGIN_SECONDS)))
        try:
            reply = self.client.reconcile_host(host, keep, detail=DETAIL, min_age_seconds=min_age)
        except IpamClientError as err:
            self._warn(err)
            return None
        for item in reply.released:
            log.info("CNI reconciliation released %s of %s/%s", item.target, item.owner_id, item.interface)
            self._missing_since.pop((item.owner_id, item.interface), None)
        return list(reply.released)

    def _missing(self, lease: pb.Lease) -> bool:
        path = lease.attributes.get(NETNS_ATTRIBUTE, "")
        return bool(path) and self.gone(path)

    def _warn(self, err: IpamClientError) -> None:
        shown = naming(err, self.client.server) if unreachable(err) else err.message
        log.warning("CNI reconciliation failed: %s", shown)


def _owner(lease: pb.Lease) -> Owner:
    return (lease.owner_id, lease.interface)
