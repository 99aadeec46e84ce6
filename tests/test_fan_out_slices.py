"""The hub wakes a batch's streams a slice at a time, paced, within half the fan-out window: a
fleet's messages all at once would take the CPU from the calls arriving meanwhile.

Runs the hub's wake-up on an event loop of its own, with subscriptions as WatchEndpoints holds
them; tests/test_watch_fanout.py checks, end to end, that every stream still gets every event.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack

from sqlalchemy import Engine

from ipam.service import event_hub
from ipam.service.event_hub import EventHub

STREAMS = 130  # six slices: five full ones and a partial one


def test_a_batch_wakes_one_slice_at_once_and_the_next_ones_paced(engine: Engine) -> None:
    hub = EventHub(engine, lambda event: b"")  # not started: only its wake-up is exercised
    woken_at, first_turn, window = asyncio.run(wake_all(hub))

    assert first_turn == event_hub.WAKE_SLICE  # the rest wait for later turns of the loop
    assert len(woken_at) == STREAMS  # every stream is woken, once
    slices = -(-STREAMS // event_hub.WAKE_SLICE)
    gap = min(event_hub.WAKE_SLICE / event_hub.FAN_OUT_PACE, window * event_hub.FAN_OUT_SPREAD / slices)
    # call_later never fires early by more than the clock's resolution: the slices are spread.
    resolution = time.get_clock_info("monotonic").resolution
    assert max(woken_at) - min(woken_at) >= (slices - 1) * (gap - 2 * resolution)


def test_a_stopping_hub_wakes_every_stream_without_spreading(engine: Engine) -> None:
    """Stopping, the slices follow each other on the next turns of the loop, not paced apart."""
    hub = EventHub(engine, lambda event: b"")
    hub._stopping.set()
    slices = -(-STREAMS // event_hub.WAKE_SLICE)
    woken_per_turn = asyncio.run(count_woken_per_turn(hub, turns=slices + 1))
    assert woken_per_turn[0] == event_hub.WAKE_SLICE
    assert woken_per_turn[-1] == STREAMS


async def count_woken_per_turn(hub: EventHub, turns: int) -> list[int]:
    """Subscribe STREAMS streams, wake them as a batch does: how many are woken after each turn."""
    hub.attach(asyncio.get_running_loop())
    with ExitStack() as held:
        subscriptions = [held.enter_context(hub.watching(0)) for _ in range(STREAMS)]
        hub._set_woken()
        counts = [sum(s.woken.is_set() for s in subscriptions)]
        for _ in range(turns):
            await asyncio.sleep(0)
            counts.append(sum(s.woken.is_set() for s in subscriptions))
    return counts


async def wake_all(hub: EventHub) -> tuple[list[float], int, float]:
    """Subscribe STREAMS unfiltered streams, wake them as a batch does; (when each woke, how many
    were woken before the loop turned, the fan-out window)."""
    loop = asyncio.get_running_loop()
    hub.attach(loop)
    woken_at: list[float] = []
    with ExitStack() as held:
        subscriptions = [held.enter_context(hub.watching(0)) for _ in range(STREAMS)]
        window = hub._fan_out_window()

        async def note(subscription: event_hub.Subscription) -> None:
            await subscription.woken.wait()
            woken_at.append(loop.time())

        waiters = [asyncio.create_task(note(s)) for s in subscriptions]
        await asyncio.sleep(0)  # every waiter is waiting
        hub._set_woken()
        first_turn = sum(s.woken.is_set() for s in subscriptions)
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)  # a bound against hanging
    return woken_at, first_turn, window
