"""Registering the host with the server, at start and then every heartbeat interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from ipam_client import IpamClient, IpamClientError

log = logging.getLogger("ipam_agent.heartbeat")

FIRST_RETRY_SECONDS = 1.0


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


def heartbeat(registration: Registration, interval: float, stop: threading.Event) -> None:
    """Register every `interval` seconds until `stop`; while the server fails, retry sooner with
    exponential backoff (1 s, 2 s, 4 s ... up to `interval`), logging the outage and the recovery."""
    failures = 0
    delay = 0.0
    while not stop.wait(delay):
        try:
            registration.register()
        except IpamClientError as err:
            failures += 1
            delay = min(interval, FIRST_RETRY_SECONDS * 2 ** (failures - 1))
            log.warning(
                "registering host %r failed (attempt %d, next in %.0fs): %s",
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
        delay = interval
