"""A clock for code that waits: sleeping moves it on at once, so a test of timing neither waits nor races."""

from __future__ import annotations

import asyncio


class FakeClock:
    """``monotonic``, ``sleep`` and ``asleep`` (for asyncio) on one virtual time line.

    ``stall_after(n, seconds)``: the n-th sleep (counting from 1) oversleeps by
    ``seconds``, as a busy machine would.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self._stalls: dict[int, float] = {}

    def monotonic(self) -> float:
        return self.now

    def stall_after(self, sleeps: int, seconds: float) -> None:
        self._stalls[sleeps] = seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += max(0.0, seconds) + self._stalls.get(self.sleeps, 0.0)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # what is ready runs first, at the time it was made ready, as in a real sleep
        self.sleep(seconds)
