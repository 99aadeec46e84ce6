"""Group commit for use cases: concurrent calls with the same key share one transaction.

The first caller for a key becomes the leader: it takes every call queued for that key and runs
them as one batch, then hands leadership to the oldest call that arrived meanwhile. Nobody waits
for a timer, so a lone call runs at once; under load, batches grow by themselves. This only
saves work; correctness still comes from the database, since other replicas batch separately.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
I = TypeVar("I")  # noqa: E741
R = TypeVar("R")

# The batch function returns, per item, its result or the exception to raise for it.
BatchFn = Callable[[K, Sequence[I]], Sequence["R | BaseException"]]


@dataclass
class _Call(Generic[I, R]):
    item: I
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    outcome: R | BaseException | None = None


class Coalescer(Generic[K, I, R]):
    def __init__(self, run_batch: BatchFn[K, I, R], max_batch: int = 64) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queues: dict[K, list[_Call[I, R]]] = {}
        self._busy: set[K] = set()

    def submit(self, key: K, item: I) -> R:
        call: _Call[I, R] = _Call(item)
        with self._lock:
            self._queues.setdefault(key, []).append(call)
            if key not in self._busy:
                self._busy.add(key)
                call.lead = True
        if not call.lead:
            call.done.wait()
        if call.lead:  # set at submit or handed over by the previous leader
            self._lead(key)
        outcome = call.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]

    def _lead(self, key: K) -> None:
        with self._lock:
            queue = self._queues[key]
            batch, rest = queue[: self._max_batch], queue[self._max_batch :]
            if rest:
                self._queues[key] = rest
            else:
                del self._queues[key]
        try:
            outcomes: Sequence[R | BaseException] = self._run_batch(key, [c.item for c in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"batch of {len(batch)} calls produced {len(outcomes)} outcomes")
        except BaseException as exc:  # the whole batch failed the same way
            outcomes = [exc] * len(batch)
        with self._lock:
            waiting = self._queues.get(key)
            if waiting:
                waiting[0].lead = True
                waiting[0].done.set()
            else:
                self._busy.discard(key)
        for call, outcome in zip(batch, outcomes, strict=True):
            call.outcome = outcome
            call.lead = False
            call.done.set()
