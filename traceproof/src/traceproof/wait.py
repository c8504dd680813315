"""The one wait of traceproof: read something again and again until it is what was asked, or a deadline passes.

Spans reach a store in batches, counters move on a scrape, so every reader
that waits for them (:meth:`traceproof.Traces.get`,
:meth:`traceproof.JaegerClient.wait_for`, the tests' and the bench's waits)
polls through :func:`poll`; :func:`settled` is the condition "has held still".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sized
from typing import TypeVar

__all__ = ["poll", "settled"]

T = TypeVar("T")


def poll(read: Callable[[], T], done: Callable[[T], bool], timeout_s: float, interval_s: float = 0.25) -> tuple[T, bool]:
    """``read()`` every ``interval_s`` until ``done`` holds of what it read, or ``timeout_s`` has passed.

    Returns the last value read and whether ``done`` held of it; ``read`` is
    called at least once, and once more at the deadline (never an interval
    after it). What ``read`` raises ends the wait: catch there what is to be
    waited out.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = read()
        if done(value):
            return value, True
        left = deadline - time.monotonic()
        if left <= 0:
            return value, False
        time.sleep(min(interval_s, left))


def settled(quiet_s: float) -> Callable[[Sized], bool]:
    """Something (spans, counts), and no change in how many for ``quiet_s``: spans reach a store in batches
    (each service's, then the Collector's), so a trace whose count holds that long is taken as whole."""
    seen = {"count": -1, "since": 0.0}

    def until(items: Sized) -> bool:
        now = time.monotonic()
        if len(items) != seen["count"]:
            seen["count"], seen["since"] = len(items), now
        return len(items) > 0 and now - seen["since"] >= quiet_s

    return until
