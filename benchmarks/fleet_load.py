"""The load of benchmarks/fleet.py in one process: simulated agents on one grpc.aio event loop.

Each simulated host does what ipam-agent does: RegisterHost at start and then every heartbeat
interval ±20% (retrying sooner with the agent's backoff while it fails), and holds one
WatchEndpoints stream. One process also runs the allocation churn: Allocate at a fixed rate for
a new owner on a random host of that process that has registered, Release of that owner 2-8 s
later. Watch streams take the raw bytes of each message (no deserializer) except a sample, which
parses every message and notes when each endpoint's ADDED event arrived; the delivery time of an
event is that arrival minus the time the churn saw its Allocate acknowledged (both on this
process's monotonic clock).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

import grpc

from ipam_client import Backoff, jittered, registry_pb
from ipam_client import pb as ipam_pb
from ipam_client._pb.ipam.v1 import ipam_pb2_grpc

WATCH_METHOD = "/ipam.v1.EndpointService/WatchEndpoints"
# What an idle stream watches: endpoints with a label none of the churn has, so the stream is
# open and quiet (a policy agent following a selector that matches nothing yet).
IDLE_SELECTOR = "fleet-role=idle"
CALL_TIMEOUT = 10.0  # seconds, every unary call
HEARTBEAT_JITTER = 0.2  # as ipam_agent.heartbeat
TTL_HEARTBEATS = 3  # as ipam_agent.options: the TTL the agent registers with, in intervals
FIRST_RETRY_SECONDS = 1.0  # as ipam_agent.heartbeat
RELEASE_AFTER = (2.0, 8.0)  # seconds from an Allocate's acknowledgement to its Release
DELIVERY_GRACE = 5.0  # seconds after the measurement for the last events to arrive
# Seconds after opening a stream before the events of the allocations acknowledged since count
# for it (a stream opened late, e.g. with --ramp 0, cannot get the events from before it).
STREAM_SETTLE = 1.0
LAG_TICK = 0.1  # seconds: the event loop's lag is how late a sleep of this long wakes
INTERFACE = "eth0"
# Each channel its own connection, as each agent has its own.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


@dataclass(frozen=True)
class Plan:
    """What one process simulates; times are on the monotonic clock (shared by all processes on Linux)."""

    address: str
    run: str  # the prefix of host and owner names
    hosts: list[int]  # the indices of the hosts this process simulates
    all_hosts: int  # the size of the fleet, for the ramp
    space: str
    pool: str
    ramp: float  # host i of n starts at start + ramp * i / n
    seconds: float  # the measurement, after the ramp
    heartbeat: float
    churn: float  # allocations per second (0: none in this process)
    sampled: int  # how many of this process's host streams parse and time events
    idle_watchers: int
    streams_per_channel: int


@dataclass
class StreamCounts:
    opened: int = 0
    refused: int = 0  # ended with RESOURCE_EXHAUSTED
    failed: int = 0  # ended otherwise before the end of the run
    silent: int = 0  # still open at the end, the server's headers never came

    @property
    def accepted(self) -> int:
        return self.opened - self.refused - self.failed

    def add(self, other: StreamCounts) -> None:
        self.opened += other.opened
        self.refused += other.refused
        self.failed += other.failed
        self.silent += other.silent


@dataclass
class Outcome:
    """What one process measured: latencies in seconds (calls started within the measurement)."""

    heartbeat: list[float] = field(default_factory=list)
    allocate: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)
    missing: int = 0  # sampled (stream, allocation) pairs whose event never arrived
    failures: Counter[str] = field(default_factory=Counter)  # "<call> <status code>", over the whole run
    details: dict[str, str] = field(default_factory=dict)  # the first failure's message, by key
    host_streams: StreamCounts = field(default_factory=StreamCounts)
    idle_streams: StreamCounts = field(default_factory=StreamCounts)
    cpu_seconds: float = 0.0  # this process's CPU time during the measurement
    loop_lag: list[float] = field(default_factory=list)


class _Stream:
    def __init__(self, sample: bool) -> None:
        self.messages = 0
        self.accepted = False  # the server sent the stream's headers
        self.open = False
        self.opened_at = 0.0
        self.arrivals: dict[str, float] | None = {} if sample else None  # owner_id -> ADDED arrival


class Load:
    def __init__(self, plan: Plan, start: float) -> None:
        self.plan = plan
        self.start = start
        self.measure_from = start + plan.ramp
        self.measure_until = self.measure_from + plan.seconds
        self.outcome = Outcome()
        self.acks: dict[str, float] = {}  # owner_id -> when its Allocate was acknowledged
        self.streams: list[tuple[_Stream, StreamCounts]] = []
        self.channels: list[grpc.aio.Channel] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        self.registered: list[str] = []  # this process's hosts that have registered, for the churn
        self.any_registered = asyncio.Event()

    def measured(self, started: float) -> bool:
        return self.measure_from <= started < self.measure_until

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def channel(self) -> grpc.aio.Channel:
        channel = grpc.aio.insecure_channel(self.plan.address, options=CHANNEL_OPTIONS)
        self.channels.append(channel)
        return channel

    async def run(self) -> Outcome:
        plan = self.plan
        sampled = set(plan.hosts[:: max(1, len(plan.hosts) // plan.sampled)][: plan.sampled]) if plan.sampled else set()
        for host in plan.hosts:
            self.spawn(self.host(host, host in sampled))
        idle_channel: grpc.aio.Channel | None = None
        for k in range(plan.idle_watchers):
            if k % plan.streams_per_channel == 0:
                idle_channel = self.channel()
            assert idle_channel is not None
            at = self.start + plan.ramp * k / plan.idle_watchers
            self.spawn(self.watch(idle_channel, at, _Stream(False), self.outcome.idle_streams, IDLE_SELECTOR))
        if plan.churn:
            self.spawn(self.churn())
        self.spawn(self.lag_monitor())
        await _sleep_until(self.measure_from)
        cpu = time.process_time()
        await _sleep_until(self.measure_until)
        self.outcome.cpu_seconds = time.process_time() - cpu
        await asyncio.sleep(DELIVERY_GRACE if plan.churn else 0)
        self.stopping = True
        for stream, counts in self.streams:
            if stream.open and not stream.accepted:
                counts.silent += 1
        self.deliveries()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(channel.close(None) for channel in self.channels), return_exceptions=True)
        return self.outcome

    def deliveries(self) -> None:
        acks = [(owner, at) for owner, at in self.acks.items() if at < self.measure_until]
        for stream, _ in self.streams:
            if stream.arrivals is None or not stream.open:
                continue
            for owner, acked in acks:
                if acked < stream.opened_at + STREAM_SETTLE:
                    continue  # the stream may have started after the event
                arrived = stream.arrivals.get(owner)
                if arrived is None:
                    self.outcome.missing += 1
                else:  # the event may overtake the reply to the Allocate that caused it
                    self.outcome.delivery.append(max(0.0, arrived - acked))

    async def host(self, index: int, sample: bool) -> None:
        plan = self.plan
        await _sleep_until(self.start + plan.ramp * index / plan.all_hosts)
        channel = self.channel()
        hosts = ipam_pb2_grpc.HostServiceStub(channel)
        request = ipam_pb.RegisterHostRequest(
            name=host_name(plan.run, index),
            labels={"zone": f"zone-{index % 4}", "rack": f"rack-{index % 40}"},
            heartbeat_ttl_seconds=int(TTL_HEARTBEATS * plan.heartbeat),
        )
        backoff = Backoff(initial=FIRST_RETRY_SECONDS, maximum=plan.heartbeat)
        failures = 0
        watching = False
        while True:
            reply = await self.call(
                "heartbeat", self.outcome.heartbeat, hosts.RegisterHost(request, timeout=CALL_TIMEOUT)
            )
            ok = reply is not None
            if ok and not watching:  # the agent watches once it has registered
                self.registered.append(request.name)
                self.any_registered.set()
                self.spawn(self.watch(channel, 0.0, _Stream(sample), self.outcome.host_streams))
                watching = True
            failures = 0 if ok else failures + 1
            await asyncio.sleep(backoff.delay(failures - 1) if failures else jittered(plan.heartbeat, HEARTBEAT_JITTER))

    async def call(self, name: str, latencies: list[float], call: Any) -> Any:
        """Await `call`: its reply, or None when it failed (counted by status code); its latency is
        noted when it started within the measurement."""
        started = time.monotonic()
        try:
            reply = await call
        except grpc.aio.AioRpcError as err:
            if not self.stopping:
                self.failed(f"{name} {err.code().name}", err.details())
            return None
        if self.measured(started):
            latencies.append(time.monotonic() - started)
        return reply

    def failed(self, key: str, details: str | None) -> None:
        self.outcome.failures[key] += 1
        self.outcome.details.setdefault(key, details or "")

    async def watch(
        self, channel: grpc.aio.Channel, at: float, stream: _Stream, counts: StreamCounts, selector: str = ""
    ) -> None:
        await _sleep_until(at)
        method = channel.unary_stream(
            WATCH_METHOD,
            request_serializer=registry_pb.WatchEndpointsRequest.SerializeToString,
            response_deserializer=None,
        )
        counts.opened += 1
        stream.open = True
        stream.opened_at = time.monotonic()
        self.streams.append((stream, counts))
        call = method(registry_pb.WatchEndpointsRequest(label_selector=selector))
        added = registry_pb.ENDPOINT_EVENT_TYPE_ADDED
        try:
            await call.initial_metadata()
            stream.accepted = True
            async for raw in call:
                stream.messages += 1
                if stream.arrivals is not None:
                    arrived = time.monotonic()
                    for event in registry_pb.WatchEndpointsResponse.FromString(raw).events:
                        if event.type == added:
                            stream.arrivals.setdefault(event.endpoint.owner_id, arrived)
        except grpc.aio.AioRpcError as err:
            if self.stopping:
                return
            stream.open = False
            if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                counts.refused += 1
            else:
                counts.failed += 1
                self.failed(f"watch {err.code().name}", err.details())
            return
        if not self.stopping:
            stream.open = False
            counts.failed += 1
            self.failed("watch ended by the server", "")

    async def churn(self) -> None:
        plan = self.plan
        leases = ipam_pb2_grpc.LeaseServiceStub(self.channel())
        await self.any_registered.wait()  # with no ramp, the hosts register as the churn starts
        for n in range(int(plan.seconds * plan.churn)):
            await _sleep_until(self.measure_from + n / plan.churn)
            self.spawn(self.allocate(leases, n))

    async def allocate(self, leases: ipam_pb2_grpc.LeaseServiceStub, n: int) -> None:
        plan = self.plan
        owner = f"{plan.run}-owner-{n}"
        request = ipam_pb.AllocateRequest(
            host=random.choice(self.registered),
            owner_id=owner,
            interface=INTERFACE,
            attributes={
                "cni.network": "fleet",
                "io.kubernetes.pod.namespace": "bench",
                "io.kubernetes.pod.name": owner,
            },
            addresses=[ipam_pb.AddressRequest(pool=plan.pool, space=plan.space)],
        )
        if await self.call("allocate", self.outcome.allocate, leases.Allocate(request, timeout=CALL_TIMEOUT)) is None:
            return
        self.acks[owner] = time.monotonic()
        await asyncio.sleep(random.uniform(*RELEASE_AFTER))
        release = ipam_pb.ReleaseRequest(owner=ipam_pb.OwnerKey(owner_id=owner, interface=INTERFACE))
        await self.call("release", [], leases.Release(release, timeout=CALL_TIMEOUT))

    async def lag_monitor(self) -> None:
        """How late the event loop runs: a saturated generator shows here first."""
        while True:
            started = time.monotonic()
            await asyncio.sleep(LAG_TICK)
            if self.measured(started):
                self.outcome.loop_lag.append(time.monotonic() - started - LAG_TICK)


def host_name(run: str, index: int) -> str:
    return f"{run}-host-{index}"


async def _sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))


def run_process(plan: Plan, go: Event, start: Synchronized[float], results: Queue[Any]) -> None:
    """A process's entry point: report ready, wait for `go`, run the load from `start`, put the Outcome."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    results.put("ready")
    go.wait()
    try:
        results.put(asyncio.run(Load(plan, start.value).run()))
    except BaseException:
        results.put(traceback.format_exc())
