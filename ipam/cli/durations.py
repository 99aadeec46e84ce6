"""Durations on the command line: "90s", "15m", "1h30m", "2d" (a bare number is seconds)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from ipam.domain.errors import InvalidArgument
from ipam.domain.liveness import MAX_GRACE_SECONDS, parse_duration

MAX_RETENTION_DAYS = 3650


def duration(text: str) -> float:
    """argparse type: seconds, at most MAX_GRACE_SECONDS."""
    try:
        seconds = parse_duration("duration", text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("duration: ")) from None
    if seconds > MAX_GRACE_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is longer than {MAX_GRACE_SECONDS // 86400} days")
    return seconds


def whole_seconds(text: str) -> int:
    """argparse type: a duration in whole seconds."""
    seconds = duration(text)
    if seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"{text!r}: whole seconds only")
    return int(seconds)


def retention(text: str) -> timedelta:
    """argparse type: how long history is kept, at least a second, at most MAX_RETENTION_DAYS."""
    try:
        seconds = parse_duration("duration", text)
    except InvalidArgument as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("duration: ")) from None
    if seconds < 1 or seconds > MAX_RETENTION_DAYS * 86400:
        raise argparse.ArgumentTypeError(f"{text!r}: between 1s and {MAX_RETENTION_DAYS}d")
    return timedelta(seconds=seconds)
