"""The periodic garbage collector inside `ipam serve`: every replica runs one, and the GC lock
in PostgreSQL makes sure only one of them collects at a time."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from ipam.domain.errors import Busy, IpamError
from ipam.service import gc
from ipam.service.gc import GcSettings

log = logging.getLogger("ipam.gc")


class Collector:
    def __init__(
        self, engine: Engine, settings: GcSettings, on_report: Callable[[gc.GcReport], None] | None = None
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.on_report = on_report  # e.g. the server's metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.settings.interval_seconds <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="gc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.interval_seconds):
            self.collect_once()

    def collect_once(self) -> gc.GcReport | None:
        """One collection; None when another replica is collecting or it failed (logged)."""
        try:
            report = gc.run_gc(
                self.engine, dry_run=False, grace_seconds=self.settings.grace_seconds, duty=self.settings.duty
            )
        except Busy:
            log.debug("another replica is collecting")
            return None
        except IpamError as err:
            log.warning("garbage collection failed: %s", err)
            return None
        except Exception:
            log.exception("garbage collection failed")
            return None
        if self.on_report is not None:
            self.on_report(report)
        if report.reclaimed:
            summary = ", ".join(f"{n} {key}" for key, n in sorted(report.reclaimed.items()))
            log.info("garbage collection reclaimed %s in %.2f s", summary, report.duration_seconds)
        return report
