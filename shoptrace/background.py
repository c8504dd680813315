"""Work that outlives the response, kept in the request's trace and given an end.

``asyncio.create_task`` copies the current ``contextvars`` context, so a task
started inside a request carries that request's span and its spans join the
trace. What a bare ``create_task`` lacks is a cancellation path: nothing bounds
how long it runs, nothing holds a reference to it (the event loop keeps only a
weak one, so it can vanish mid-flight), and nothing waits for it at shutdown.
:class:`BackgroundWork` gives every task a deadline, keeps it, logs its
failure in its trace, and cancels what is left when the app stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundWork:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def start(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` after the caller returns, in the caller's context, within ``timeout_s``."""
        if self._closed:
            work.close()
            log.warning("not starting %s: shutting down", name)
            return
        task = asyncio.create_task(self._bounded(name, work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bounded(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await work
        except TimeoutError:
            log.error("%s did not finish within %.1f s and was cancelled", name, self.timeout_s)
        except asyncio.CancelledError:
            log.warning("%s was cancelled at shutdown", name)
            raise
        except Exception:
            log.exception("%s failed", name)

    async def drain(self, timeout_s: float) -> None:
        """At shutdown: let running work finish for up to ``timeout_s``, then cancel the rest."""
        self._closed = True
        if not self._tasks:
            return
        _, still_running = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        for task in still_running:
            task.cancel()
        if still_running:
            await asyncio.wait(still_running)
