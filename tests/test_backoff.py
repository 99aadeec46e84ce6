"""The client's one backoff and jitter helper: bounds, spread, and targets naming several replicas."""

from __future__ import annotations

import random
import statistics

import pytest

from ipam_client import Backoff, jittered
from ipam_client._channel import replica_targets


def test_backoff_delays_stay_within_the_upper_half_of_their_exponential_cap() -> None:
    backoff = Backoff(initial=0.05, maximum=2.0)
    rng = random.Random(14)
    for attempt in range(30):
        cap = min(2.0, 0.05 * 2**attempt)
        delays = [backoff.delay(attempt, rng.random) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        # spread over the whole half, not bunched: retries after one outage drift apart
        assert max(delays) - min(delays) > 0.4 * cap


def test_jittered_interval_stays_within_its_spread_and_covers_it() -> None:
    rng = random.Random(7)
    draws = [jittered(10.0, 0.2, rng.random) for _ in range(2000)]
    assert all(8.0 <= d <= 12.0 for d in draws)
    assert min(draws) < 8.1 and max(draws) > 11.9
    assert statistics.mean(draws) == pytest.approx(10.0, abs=0.1)
    # uniform over [8, 12]: standard deviation 4 / sqrt(12)
    assert statistics.pstdev(draws) == pytest.approx(4 / 12**0.5, rel=0.05)


def test_two_sources_seeded_apart_drift_apart() -> None:
    """Two hosts that start together are, after ten intervals, far from each other's rhythm."""
    a, b = random.Random(1), random.Random(2)
    time_a = sum(jittered(10.0, 0.2, a.random) for _ in range(10))
    time_b = sum(jittered(10.0, 0.2, b.random) for _ in range(10))
    assert abs(time_a - time_b) > 1.0


def test_jitter_spread_must_leave_the_interval_positive() -> None:
    with pytest.raises(ValueError, match=r"spread must be in \[0, 1\), got 1.5"):
        jittered(10.0, 1.5)
    assert jittered(10.0, 0.0) == 10.0


@pytest.mark.parametrize(
    ("target", "replicas"),
    [
        ("127.0.0.1:50051", ["127.0.0.1:50051"]),
        ("ipv4:10.0.0.1:50051,10.0.0.2:50052", ["ipv4:10.0.0.1:50051", "ipv4:10.0.0.2:50052"]),
        ("ipv6:[::1]:1,[::1]:2", ["ipv6:[::1]:1", "ipv6:[::1]:2"]),
        ("ipv4:10.0.0.1:50051", ["ipv4:10.0.0.1:50051"]),
        ("dns:///ipam.example:50051", ["dns:///ipam.example:50051"]),
    ],
)
def test_replica_targets(target: str, replicas: list[str]) -> None:
    assert replica_targets(target) == replicas
