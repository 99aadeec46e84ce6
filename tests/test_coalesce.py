"""Group commit: concurrent calls with the same key share one batch (real threads, no database).

Every ordering a test relies on is forced with events: a batch function can hold a chosen batch
until the test releases it, and callers are queued one at a time, each start followed by a wait
until the coalescer holds the call. Waits have generous deadlines and only ever fail a test that
would otherwise hang; no assertion depends on how long something took.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pytest

from ipam.service.coalesce import Coalescer

KEY = "pool-1/host-a"
DEADLINE = 10.0

Outcome = str | BaseException


@dataclass
class Batch:
    key: str
    items: list[int]
    thread: int  # the ident of the thread that ran it


class Batches:
    """A batch function that records every batch; `hold` batches (by number) wait for release."""

    def __init__(
        self,
        hold: Iterable[int] = (),
        fail: Iterable[int] = (),
        outcome: Callable[[str, int], Outcome] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self.batches: list[Batch] = []
        self.started = {n: threading.Event() for n in hold}
        self.release = {n: threading.Event() for n in hold}
        self.fail = set(fail)
        self.outcome = outcome or (lambda key, item: f"{key}:{item}")

    def __call__(self, key: str, items: Sequence[int]) -> list[Outcome]:
        with self._lock:
            number = len(self.batches)
            self.batches.append(Batch(key, list(items), threading.get_ident()))
        if number in self.started:
            self.started[number].set()
            if not self.release[number].wait(DEADLINE):
                raise AssertionError(f"batch {number} was never released")
        if number in self.fail:
            raise RuntimeError(f"batch {number} failed")
        return [self.outcome(key, item) for item in items]

    def wait_started(self, number: int) -> None:
        assert self.started[number].wait(DEADLINE), f"batch {number} never started"

    @property
    def items(self) -> list[list[int]]:
        return [b.items for b in self.batches]


class Caller(threading.Thread):
    """One `submit` on its own thread; keeps what it returned or raised."""

    def __init__(self, coalescer: Coalescer[str, int, str], key: str, item: int) -> None:
        super().__init__(daemon=True, name=f"caller-{key}-{item}")
        self.coalescer, self.key, self.item = coalescer, key, item
        self.result: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.coalescer.submit(self.key, self.item)
        except BaseException as exc:
            self.error = exc

    def finish(self) -> Caller:
        self.join(DEADLINE)
        assert not self.is_alive(), f"call {self.key}/{self.item} is still waiting"
        return self


def queued(coalescer: Coalescer[str, int, str], key: str) -> int:
    """Calls for `key` held by the coalescer and not yet taken into a batch."""
    with coalescer._lock:
        return len(coalescer._queues.get(key, []))


def wait_for_queue(coalescer: Coalescer[str, int, str], key: str, length: int) -> None:
    """Poll until `length` calls are queued for `key` (the deadline only stops a hang)."""
    deadline = time.monotonic() + DEADLINE
    while queued(coalescer, key) != length:
        assert time.monotonic() < deadline, f"timed out waiting for {length} queued calls on {key!r}"
        time.sleep(0.001)


def start_leader(coalescer: Coalescer[str, int, str], batches: Batches, key: str, item: int) -> Caller:
    """The first call of a test: it finds the key idle and its batch, number 0, is held."""
    leader = Caller(coalescer, key, item)
    leader.start()
    batches.wait_started(0)
    return leader


def queue_callers(coalescer: Coalescer[str, int, str], key: str, items: Iterable[int]) -> list[Caller]:
    """Start one caller per item, in order, each queued before the next starts."""
    callers = []
    for item in items:
        want = queued(coalescer, key) + 1
        caller = Caller(coalescer, key, item)
        caller.start()
        wait_for_queue(coalescer, key, want)
        callers.append(caller)
    return callers


def finish(callers: Iterable[Caller]) -> dict[int, Caller]:
    return {c.item: c.finish() for c in callers}


# ---- a lone call ------------------------------------------------------------------------------


def test_lone_call_runs_at_once_on_the_callers_thread() -> None:
    batches = Batches()
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    assert coalescer.submit(KEY, 1) == f"{KEY}:1"
    assert coalescer.submit(KEY, 2) == f"{KEY}:2"  # the key was left idle: again a batch of its own
    assert batches.batches == [
        Batch(KEY, [1], threading.get_ident()),
        Batch(KEY, [2], threading.get_ident()),
    ]


def test_lone_call_failing_leaves_the_key_idle() -> None:
    batches = Batches(fail={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    with pytest.raises(RuntimeError, match="batch 0 failed"):
        coalescer.submit(KEY, 1)
    assert coalescer.submit(KEY, 2) == f"{KEY}:2"
    assert batches.items == [[1], [2]]


def test_lone_call_gets_its_own_item_exception() -> None:
    coalescer: Coalescer[str, int, str] = Coalescer(Batches(outcome=lambda key, item: KeyError(item)))
    with pytest.raises(KeyError):
        coalescer.submit(KEY, 1)


# ---- batching under concurrency ---------------------------------------------------------------


def test_calls_arriving_during_a_batch_share_the_next_one() -> None:
    batches = Batches(hold={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, range(1, 6))
    assert len(batches.batches) == 1  # one batch per key at a time: the others wait
    assert all(w.is_alive() for w in waiters)

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert batches.items == [[0], [1, 2, 3, 4, 5]]  # in arrival order
    assert {item: c.result for item, c in done.items()} == {i: f"{KEY}:{i}" for i in range(6)}
    assert all(c.error is None for c in done.values())
    # The first leader ran its own batch; the oldest waiter took over and ran the next one.
    assert batches.batches[0].thread == leader.ident
    assert batches.batches[1].thread == done[1].ident


def test_leader_returns_without_waiting_for_the_next_batch() -> None:
    batches = Batches(hold={0, 1})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, [1, 2, 3])

    batches.release[0].set()
    batches.wait_started(1)
    assert leader.finish().result == f"{KEY}:0"  # while batch 1 is still held
    assert all(w.is_alive() for w in waiters)

    batches.release[1].set()
    done = finish(waiters)
    assert [done[i].result for i in (1, 2, 3)] == [f"{KEY}:1", f"{KEY}:2", f"{KEY}:3"]
    assert batches.items == [[0], [1, 2, 3]]


@pytest.mark.parametrize(
    ("max_batch", "waiting", "sizes"),
    [
        (1, 3, [1, 1, 1, 1]),
        (2, 5, [1, 2, 2, 1]),
        (3, 6, [1, 3, 3]),
        (64, 10, [1, 10]),
    ],
)
def test_max_batch_splits_the_queue(max_batch: int, waiting: int, sizes: list[int]) -> None:
    batches = Batches(hold={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches, max_batch=max_batch)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, range(1, waiting + 1))

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert [len(b.items) for b in batches.batches] == sizes
    assert [i for b in batches.batches for i in b.items] == list(range(waiting + 1))
    assert all(c.result == f"{KEY}:{item}" for item, c in done.items())
    for batch in batches.batches:  # each batch is run by the oldest call in it
        assert batch.thread == done[batch.items[0]].ident


# ---- errors -----------------------------------------------------------------------------------


def odd_items_fail(key: str, item: int) -> Outcome:
    return ValueError(f"item {item} is bad") if item % 2 else f"{key}:{item}"


def test_per_item_exceptions_reach_their_own_caller() -> None:
    batches = Batches(hold={0}, outcome=odd_items_fail)
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, KEY, 1)  # the leader's own item fails too
    waiters = queue_callers(coalescer, KEY, range(2, 9))

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert batches.items == [[1], list(range(2, 9))]
    for item, caller in done.items():
        if item % 2:
            assert isinstance(caller.error, ValueError)
            assert str(caller.error) == f"item {item} is bad"
            assert caller.result is None
        else:
            assert caller.error is None
            assert caller.result == f"{KEY}:{item}"


def test_batch_exception_reaches_every_caller_of_that_batch() -> None:
    batches = Batches(hold={0}, fail={1})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, range(1, 5))

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert batches.items == [[0], [1, 2, 3, 4]]
    assert done[0].result == f"{KEY}:0"
    for item in range(1, 5):
        assert isinstance(done[item].error, RuntimeError)
        assert str(done[item].error) == "batch 1 failed"
    # The key is not left busy: a new call runs at once on its own thread.
    assert coalescer.submit(KEY, 99) == f"{KEY}:99"
    assert batches.batches[-1] == Batch(KEY, [99], threading.get_ident())


def test_hand_over_after_a_failed_batch_still_runs_the_waiters() -> None:
    batches = Batches(hold={0}, fail={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, [1, 2])

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert isinstance(done[0].error, RuntimeError)
    assert [done[1].result, done[2].result] == [f"{KEY}:1", f"{KEY}:2"]
    assert batches.items == [[0], [1, 2]]


def test_hand_over_through_a_chain_of_failing_batches() -> None:
    # max_batch=1 makes every waiter a leader in turn; every other batch fails.
    batches = Batches(hold={0}, fail={0, 2, 4})
    coalescer: Coalescer[str, int, str] = Coalescer(batches, max_batch=1)
    leader = start_leader(coalescer, batches, KEY, 0)
    waiters = queue_callers(coalescer, KEY, range(1, 6))

    batches.release[0].set()
    done = finish([leader, *waiters])

    assert batches.items == [[i] for i in range(6)]
    for item, caller in done.items():
        if item % 2 == 0:
            assert isinstance(caller.error, RuntimeError)
        else:
            assert caller.result == f"{KEY}:{item}"
        assert batches.batches[item].thread == caller.ident


# ---- keys -------------------------------------------------------------------------------------


def test_different_keys_do_not_block_each_other() -> None:
    batches = Batches(hold={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    held = start_leader(coalescer, batches, "a", 1)
    queued_on_a = queue_callers(coalescer, "a", [2])

    other = Caller(coalescer, "b", 3)
    other.start()
    assert other.finish().result == "b:3"  # while key "a" is still held
    assert held.is_alive()
    assert queued(coalescer, "b") == 0

    batches.release[0].set()
    done = finish([held, *queued_on_a])
    assert [done[1].result, done[2].result] == ["a:1", "a:2"]
    assert [(b.key, b.items) for b in batches.batches] == [("a", [1]), ("b", [3]), ("a", [2])]


def test_equal_keys_share_a_queue() -> None:
    batches = Batches(hold={0})
    coalescer: Coalescer[str, int, str] = Coalescer(batches)
    leader = start_leader(coalescer, batches, "pool-1/" + "host-a", 0)
    waiters = queue_callers(coalescer, "".join(["pool-1/", "host-a"]), [1, 2])
    batches.release[0].set()
    finish([leader, *waiters])
    assert batches.items == [[0], [1, 2]]


# ---- under load -------------------------------------------------------------------------------


def test_under_load_every_call_gets_exactly_its_own_outcome() -> None:
    keys = ["a", "b", "c"]
    threads, calls_each = 24, 25
    lock = threading.Lock()
    running: Counter[str] = Counter()
    most_running: Counter[str] = Counter()
    failed_items: set[int] = set()
    seen: Counter[int] = Counter()
    numbers = itertools.count()

    def run_batch(key: str, items: Sequence[int]) -> list[Outcome]:
        with lock:
            running[key] += 1
            most_running[key] = max(most_running[key], running[key])
            seen.update(items)
            fail = next(numbers) % 5 == 4
            if fail:
                failed_items.update(items)
        try:
            time.sleep(0.0005)  # a commit's I/O: lets other callers queue up meanwhile (no assertion on time)
            if fail:
                raise RuntimeError("the whole batch failed")
            return [ValueError(str(i)) if i % 7 == 0 else f"{key}:{i}" for i in items]
        finally:
            with lock:
                running[key] -= 1

    coalescer: Coalescer[str, int, str] = Coalescer(run_batch, max_batch=4)
    barrier = threading.Barrier(threads)
    outcomes: dict[int, Outcome] = {}

    def worker(w: int) -> None:
        barrier.wait(DEADLINE)
        for n in range(calls_each):
            item = w * calls_each + n
            key = keys[item % len(keys)]
            try:
                outcome: Outcome = coalescer.submit(key, item)
            except BaseException as exc:
                outcome = exc
            with lock:
                outcomes[item] = outcome

    workers = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(DEADLINE)
    assert not [t.name for t in workers if t.is_alive()], "some calls never returned"

    total = threads * calls_each
    assert set(seen) == set(range(total)) and set(seen.values()) == {1}  # each item in exactly one batch
    assert set(most_running.values()) == {1}  # never two batches of one key at once
    assert len(outcomes) == total
    for item, outcome in outcomes.items():
        key = keys[item % len(keys)]
        if item in failed_items:
            assert isinstance(outcome, RuntimeError), item
        elif item % 7 == 0:
            assert isinstance(outcome, ValueError) and str(outcome) == str(item), item
        else:
            assert outcome == f"{key}:{item}"
    with coalescer._lock:  # nothing left behind
        assert coalescer._queues == {}
        assert coalescer._busy == set()
