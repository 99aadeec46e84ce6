"""Host liveness and the rules of garbage collection: pure functions of times and durations.

A host is `alive` while its last heartbeat is younger than its heartbeat TTL, `stale` after that
(missed heartbeats: nothing is reclaimed), and `dead` once the last heartbeat is older than the
grace period: then its leases and subnets may be reclaimed.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ipam.domain.errors import InvalidArgument

ALIVE, STALE, DEAD = "alive", "stale", "dead"

DEFAULT_TTL_SECONDS = 30
MAX_TTL_SECONDS = 24 * 3600
DEFAULT_GRACE_SECONDS = 15 * 60
# Longer than any outage worth waiting for; a larger grace is a typo (e.g. seconds for minutes).
MAX_GRACE_SECONDS = 30 * 24 * 3600
DEFAULT_GC_INTERVAL_SECONDS = 60
# The share of time a collection works; below 1 it rests between transactions (see ipam.service.gc).
DEFAULT_GC_DUTY = 1.0
MIN_GC_DUTY = 0.05

# Why something was reclaimed (gc_record.reason).
DEAD_HOST, RUNTIME_GONE, EMPTY_SUBNET, HOST_DELETED = "dead_host", "runtime_gone", "empty_subnet", "host_deleted"
REASONS = (DEAD_HOST, RUNTIME_GONE, EMPTY_SUBNET, HOST_DELETED)

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def host_state(last_seen: datetime, ttl_seconds: int, grace_seconds: int, now: datetime) -> str:
    silent = now - last_seen
    if silent > timedelta(seconds=max(grace_seconds, ttl_seconds)):
        return DEAD
    if silent > timedelta(seconds=ttl_seconds):
        return STALE
    return ALIVE


def heartbeat_ttl(field: str, seconds: int) -> int | None:
    """The TTL a host registers with; 0 = none given (keep the host's, or the default)."""
    if seconds == 0:
        return None
    if not 1 <= seconds <= MAX_TTL_SECONDS:
        raise InvalidArgument(f"{field}: {seconds} s is out of range (1 s .. {MAX_TTL_SECONDS // 3600} h)")
    return seconds


def grace(field: str, seconds: int) -> int:
    if seconds < 0:
        raise InvalidArgument(f"{field}: {seconds} s must not be negative")
    if seconds > MAX_GRACE_SECONDS:
        raise InvalidArgument(f"{field}: {seconds} s is longer than {MAX_GRACE_SECONDS // 86400} days")
    return seconds


def duty(field: str, value: float) -> float:
    """A collection's share of time: above 0 (at least MIN_GC_DUTY) and at most 1."""
    if not MIN_GC_DUTY <= value <= 1:
        raise InvalidArgument(f"{field}: {value:g} is out of range ({MIN_GC_DUTY:g} .. 1, the share of time it works)")
    return value


def parse_duration(field: str, text: str) -> float:
    """Seconds in "90", "90s", "15m", "1h30m", "2d", "500ms"; a precise error otherwise."""
    value = text.strip()
    if value.isdigit():
        return float(value)
    matches = list(_DURATION.finditer(value))
    if not value or "".join(m.group(0) for m in matches) != value:
        if value.startswith("-"):
            raise InvalidArgument(f"{field}: {text!r} is negative; durations are 0 or more")
        raise InvalidArgument(f"{field}: {text!r} is not a duration (e.g. 90s, 15m, 1h30m, 2d)")
    return sum(int(m.group(1)) * _UNIT_SECONDS[m.group(2)] for m in matches)
