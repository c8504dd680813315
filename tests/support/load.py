"""Steady load for the drills and the scale tests: explore.load (the generator behind
``make load``) in a background thread, on a clock the test's schedule shares."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Callable

import httpx
from rich.console import Console

from explore.load import Result, run
from traceproof.wait import poll

CHECKOUT_URL = "http://127.0.0.1:8080"
RATE = 20.0  # orders per second: a steady, moderate load for 2 cores


class Load:
    """Every order's :class:`Result` (its SKU, outcome, start and trace id) once the load is over."""

    def __init__(self, duration_s: float, mix: dict[str, float] | None = None, rate: float = RATE, seed: int = 7) -> None:
        self.duration_s = duration_s
        self.mix = mix or {"item-123": 1.0}
        self.rate = rate
        self.seed = seed
        self.results: list[Result] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = 0.0

    def _run(self) -> None:
        console = Console(file=io.StringIO())
        self.results = asyncio.run(run(CHECKOUT_URL, self.duration_s, self.rate, self.mix, 200, 10.0, self.seed, console))

    def __enter__(self) -> Load:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def at(self, offset_s: float) -> None:
        """Sleep until ``offset_s`` after the load started."""
        time.sleep(max(0.0, self.started + offset_s - time.monotonic()))

    def now(self) -> float:
        """Seconds since the load started (the clock of ``Result.started_s``)."""
        return time.monotonic() - self.started

    def __exit__(self, *exc: object) -> None:
        self._thread.join(self.duration_s + 60)
        assert not self._thread.is_alive(), "the load did not finish"

    def between(self, start_s: float, end_s: float) -> list[Result]:
        return [r for r in self.results if start_s <= r.started_s < end_s]


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds until ``check()`` is true (HTTP errors count as not yet); fails after ``timeout_s``."""
    started = time.monotonic()

    def checked() -> bool:
        try:
            return check()
        except httpx.HTTPError:
            return False

    _, done = poll(checked, bool, timeout_s, interval_s=0.2)
    if not done:
        raise AssertionError(f"{what} not within {timeout_s} s")
    return time.monotonic() - started
