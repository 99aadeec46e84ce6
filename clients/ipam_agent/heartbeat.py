"""Registering the host with the server, at start and then every heartbeat interval."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping

from ipam_client import Backoff, IpamClient, IpamClientError, jittered

log = logging.getLogger("ipam_agent.heartbeat")

FIRST_RETRY_SECONDS = 1.0
# Each wait between heartbeats is drawn from interval ±20%, so that agents (re)started together
# by an outage or a rollout spread out over the interval instead of heartbeating in lockstep.
INTERVAL_JITTER = 0.2


class Registration:
    """The host's registration: RegisterHost creates the host or replaces its labels and marks it seen."""

    def __init__(self, client: IpamClient, host: str, labels: Mapping[str, str], ttl_seconds: int = 0) -> None:
        self.client = client
        self.host = host
        self.labels = dict(labels)
        # How long the server counts the host alive after each heartbeat (0: the server's default).
        self.ttl_seconds = ttl_seconds
        self._registered = threading.Event()

    def register(self) -> None:
        self.client.register_host(self.host, self.labels, heartbeat_ttl_seconds=self.ttl_seconds)
        self._registered.set()

    def ensure(self) -> None:
        """Register now unless a registration already succeeded (raises IpamClientError)."""
        if not self._registered.is_set():
            self.register()


def heartbeat(
    registration: Registration,
    interval: float,
    stop: threading.Event,
    rand: Callable[[], float] = random.random,
) -> None:
    """Register every `interval` seconds (±20%) until `stop`; while the server fails, retry sooner
    with jittered exponential backoff (0.5-1 s, 1-2 s, 2-4 s ... up to 0.5-1 `interval`), logging
    the outage and the recovery."""
    backoff = Backoff(initial=FIRST_RETRY_SECONDS, maximum=interval)
    failures = 0
    delay = 0.0
    while not stop.wait(delay):
        try:
            registration.register()
        except IpamClientError as err:
            delay = backoff.delay(failures, rand)
            failures += 1
            log.warning(
                "registering host %r failed (attempt %d, next in %.1fs): %s",
                registration.host,
                failures,
                delay,
                err.message,
            )
            continue
        if failures:
            log.info("host %r registered again after %d failed attempts", registration.host, failures)
        elif delay == 0:
            log.info("host %r registered with %s", registration.host, registration.client.server)
        failures = 0
        delay = jittered(interval, INTERVAL_JITTER, rand)
