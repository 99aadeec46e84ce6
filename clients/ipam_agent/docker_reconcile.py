"""Docker reconciliation: at start-up and then every interval, tell the server which networks of
this driver and which container addresses in them dockerd still uses; the server releases the
rest (ReconcileNetworks), so that releases dockerd could not send (the agent was down) do not
leak addresses.

Failures (dockerd or the server unreachable) cost one warning line; the next interval tries again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from ipam_agent.docker_engine import DockerEngine, DockerEngineError
from ipam_agent.handlers import naming, unreachable
from ipam_agent.heartbeat import Registration
from ipam_client import IpamClient, IpamClientError, pb

log = logging.getLogger("ipam_agent.docker_reconcile")

MIN_AGE_SECONDS = 60
# dockerd asks for an address before its endpoint shows in the API: whatever the listing could
# have missed is younger than the listing took plus this margin.
LISTING_MARGIN_SECONDS = 30
MAX_MIN_AGE_SECONDS = 24 * 3600


class Reconciler:
    def __init__(
        self, client: IpamClient, registration: Registration, engine: DockerEngine, driver: str, space: str
    ) -> None:
        self.client = client
        self.registration = registration
        self.engine = engine
        self.driver = driver
        self.space = space

    def run_once(self) -> list[pb.GcItem] | None:
        """What the server released, or None when dockerd or the server failed (logged)."""
        started = time.monotonic()
        try:
            networks = self.engine.networks_in_use(self.driver)
        except DockerEngineError as err:
            log.warning("Docker reconciliation skipped: %s", err)
            return None
        min_age = min_age_for(time.monotonic() - started)
        host = self.registration.host
        try:
            self.registration.ensure()  # the host must exist before it can be reconciled
            reply = self.client.reconcile_networks(host, networks, space=self.space, min_age_seconds=min_age)
        except IpamClientError as err:
            shown = naming(err, self.client.server) if unreachable(err) else err.message
            log.warning("Docker reconciliation failed: %s", shown)
            return None
        for item in reply.released:
            what = f"address {item.target}" if item.kind == "lease" else f"network {item.target}"
            log.info("Docker reconciliation released %s (no longer used by dockerd)", what)
        return list(reply.released)


def min_age_for(listing_seconds: float) -> int:
    return min(MAX_MIN_AGE_SECONDS, max(MIN_AGE_SECONDS, math.ceil(listing_seconds) + LISTING_MARGIN_SECONDS))


def reconcile_forever(run_once: Callable[[], object], interval: float, stop: threading.Event, what: str) -> None:
    """Reconcile (`run_once`) now, then every `interval` seconds until `stop`."""
    while True:
        try:
            run_once()
        except Exception:  # a bug must not end reconciliation for the agent's lifetime
            log.exception("%s reconciliation failed", what)
        if stop.wait(interval):
            return
