"""A progress bar for long operations on a terminal; silent when stderr is not a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Advance = Callable[[int], None]


def _ignore(n: int = 1) -> None:
    pass


@contextmanager
def progress(label: str, total: int | None = None, *, stream: TextIO | None = None) -> Iterator[Advance]:
    """Yields `advance(n)`; draws `label [####....] 45% (450/1000)` at most 10 times a second.

    `total` is an estimate: when more items come, the total grows with them, so the bar never
    shows more than 100% nor more done than in all.
    """
    out = stream or sys.stderr
    if not out.isatty():
        yield _ignore
        return
    done = 0
    last = 0.0

    def draw(final: bool = False) -> None:
        if total:
            whole = max(total, done)
            filled = 30 * done // whole
            text = f"{label} [{'#' * filled}{'.' * (30 - filled)}] {100 * done // whole:3d}% ({done}/{whole})"
        else:
            text = f"{label} {done}"
        out.write("\r" + text + ("\n" if final else ""))
        out.flush()

    def advance(n: int = 1) -> None:
        nonlocal done, last
        done += n
        now = time.monotonic()
        if now - last >= 0.1:
            last = now
            draw()

    try:
        yield advance
    finally:
        draw(final=True)
