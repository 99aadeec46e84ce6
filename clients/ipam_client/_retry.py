"""The client's one backoff and jitter helper, and its one retry loop on retryable status codes.

Every wait in clients/ that follows a failure or repeats on a timer draws from here, so that
clients that failed together (a server outage) do not retry or heartbeat in lockstep."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TypeVar

import grpc

from ipam_client.errors import status_of

T = TypeVar("T")

# Retried for every call: the request never reached a working server (or its database), or a
# server shutting down (SIGTERM) cancelled a call it had received but not started. This client
# never cancels a call itself. Every write is idempotent or reports ALREADY_EXISTS when repeated.
RETRY_ALWAYS: frozenset[grpc.StatusCode] = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED})
# Retried for reads only: a write that timed out may have been applied.
RETRY_READS: frozenset[grpc.StatusCode] = RETRY_ALWAYS | {grpc.StatusCode.DEADLINE_EXCEEDED}
# A watch resumes elsewhere also when a replica refuses it (it holds as many streams as it may).
RETRY_WATCH: frozenset[grpc.StatusCode] = RETRY_ALWAYS | {grpc.StatusCode.RESOURCE_EXHAUSTED}


@dataclass(frozen=True)
class Backoff:
    """Delay before retry ``n`` (0-based): ``initial * multiplier**n`` capped at ``maximum``,
    with "equal jitter" (a uniform draw from the upper half) so that clients spread out."""

    initial: float = 0.05
    maximum: float = 2.0
    multiplier: float = 2.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        cap = min(self.maximum, self.initial * self.multiplier**attempt)
        return cap / 2 + rand() * cap / 2


DEFAULT_BACKOFF = Backoff()


def jittered(interval: float, spread: float = 0.2, rand: Callable[[], float] = random.random) -> float:
    """``interval`` moved by a uniform draw within ``±spread`` of itself (periodic work, e.g. a
    heartbeat), so that hosts started or recovered together drift apart instead of staying aligned."""
    if not 0 <= spread < 1:
        raise ValueError(f"spread must be in [0, 1), got {spread}")
    return interval * (1 - spread + 2 * spread * rand())


def call_with_retries(
    fn: Callable[[], T],
    *,
    retries: int,
    retry_on: Collection[grpc.StatusCode],
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` until it succeeds, fails with a code outside ``retry_on``, or has been retried
    ``retries`` times; the last ``grpc.RpcError`` is re-raised."""
    attempt = 0
    while True:
        try:
            return fn()
        except grpc.RpcError as err:
            code, _ = status_of(err)
            if code not in retry_on or attempt >= retries:
                raise
        sleep(backoff.delay(attempt))
        attempt += 1
