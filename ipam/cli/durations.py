"""Durations on the command line: "90s", "15m", "1h30m", "2d" (a bare number is seconds); and
the garbage collector's duty, the other bounded number of `ipam serve` and `ipam gc`.

One parser (ipam.domain.liveness.parse_duration) for every duration option; each type here only
adds its bounds.
"""

from __future__ import annotations

import argparse
from datetime import timedelta

from ipam.domain import liveness
from ipam.domain.errors import InvalidArgument
from ipam.domain.liveness import MAX_GRACE_SECONDS, parse_duration

MAX_LONG_DAYS = 3650  # history retention, token lifetimes


def _seconds(text: str, low: float, high: float) -> float:
    try:
        seconds = parse_duration("duration", text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("duration: ")) from None
    if seconds > high:
        raise argparse.ArgumentTypeError(f"{text!r} is longer than {high / 86400:g} days")
    if seconds < low:
        raise argparse.ArgumentTypeError(f"{text!r} is shorter than {low:g}s")
    return seconds


def _whole(text: str, seconds: float) -> int:
    if seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r}: whole seconds only")
    return int(seconds)


def duration(text: str) -> float:
    """argparse type: seconds, at most MAX_GRACE_SECONDS (intervals, grace periods)."""
    return _seconds(text, 0, MAX_GRACE_SECONDS)


def whole_seconds(text: str) -> int:
    """argparse type: a duration in whole seconds, at most MAX_GRACE_SECONDS."""
    return _whole(text, duration(text))


def retention(text: str) -> timedelta:
    """argparse type: how long history is kept, 1s to MAX_LONG_DAYS."""
    return timedelta(seconds=_seconds(text, 1, MAX_LONG_DAYS * 86400))


def lifetime(text: str) -> int:
    """argparse type: whole seconds up to MAX_LONG_DAYS (0: no end), e.g. a token's --ttl."""
    return _whole(text, _seconds(text, 0, MAX_LONG_DAYS * 86400))


def duty(text: str) -> float:
    """argparse type: a collection's share of time (ipam.domain.liveness.duty)."""
    try:
        return liveness.duty("duty", float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.5, got {text!r}") from None
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("duty: ")) from None
