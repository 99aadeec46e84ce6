"""Setting a context variable for the length of a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def scoped(var: ContextVar[T], value: T) -> Iterator[T]:
    """`var` is `value` inside the block, and what it was before after it. A watch stream that
    grpc abandons is closed later from another context, where the variable was never set: the
    reset has nothing to undo there."""
    token = var.set(value)
    try:
        yield value
    finally:
        with suppress(ValueError):  # closed from another context (see above)
            var.reset(token)
