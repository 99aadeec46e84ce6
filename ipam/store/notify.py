"""A dedicated PostgreSQL connection that LISTENs, for waking up on NOTIFY from any replica."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from sqlalchemy.engine import URL


class Listener:
    """LISTEN on `channels` over its own autocommit connection (not one of the engine's pool)."""

    def __init__(self, url: URL, channels: Iterable[str]) -> None:
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=5, application_name="ipam-listen")
        for channel in channels:
            self._conn.execute(f"LISTEN {channel}")

    def wait(self, timeout: float) -> set[str]:
        """The channels notified: waits up to `timeout` seconds for the first, then takes what is queued."""
        channels = {n.channel for n in self._conn.notifies(timeout=timeout, stop_after=1)}
        if channels:
            channels |= {n.channel for n in self._conn.notifies(timeout=0.001)}
        return channels

    def close(self) -> None:
        self._conn.close()
