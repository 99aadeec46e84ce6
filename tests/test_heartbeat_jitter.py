"""Two agents' heartbeats against a real server drift apart instead of staying in lockstep."""

from __future__ import annotations

import itertools
import random
import threading
import time

from ipam_agent.heartbeat import Registration, heartbeat
from ipam_client import IpamClient

INTERVAL = 0.4
BEATS = 15


class TimedRegistration(Registration):
    """A real registration that notes when each heartbeat reached the server and was answered."""

    def __init__(self, client: IpamClient, host: str, stop: threading.Event) -> None:
        super().__init__(client, host, {})
        self.times: list[float] = []
        self._stop = stop

    def register(self) -> None:
        super().register()
        self.times.append(time.monotonic())
        if len(self.times) == BEATS:
            self._stop.set()


def test_two_agents_started_together_do_not_heartbeat_in_lockstep(server: str) -> None:
    with IpamClient(server) as client:
        stops = [threading.Event(), threading.Event()]
        agents = [TimedRegistration(client, f"node-{n}", stops[n]) for n in range(2)]
        threads = [
            threading.Thread(target=heartbeat, args=(agent, INTERVAL, stop, random.Random(seed).random))
            for seed, (agent, stop) in enumerate(zip(agents, stops, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert {host.name for host in client.list_hosts()} == {"node-0", "node-1"}
    first, second = (agent.times for agent in agents)
    gaps = [abs(a - b) for a, b in zip(first, second, strict=True)]
    # Started together, the n-th heartbeats of the two hosts end up far apart (lockstep would keep
    # them within scheduling noise), and the intervals vary around INTERVAL by up to ±20%.
    assert max(gaps) > INTERVAL / 4
    intervals = [later - earlier for earlier, later in itertools.pairwise(first)]
    assert min(intervals) < INTERVAL * 0.95 < INTERVAL * 1.05 < max(intervals)
