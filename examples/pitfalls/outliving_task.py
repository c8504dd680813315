"""Pitfall 3: a task that outlives its request with no way to stop it.

``asyncio.create_task`` copies the context, so the task's spans do join the
request's trace. What a bare, fire-and-forget task lacks is an end: nothing
cancels it when the request's deadline passes (Go cancels ``r.Context()``),
nothing keeps a reference to it, nothing waits for it at shutdown. In the
trace, its span runs on long after the request answered. Bind it to the
request's deadline (``asyncio.timeout_at``) and keep it: its span then ends
at the deadline, marked as cancelled. shoptrace/background.py does this for
checkout's confirmations.

    python -m examples.pitfalls.outliving_task
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from opentelemetry.trace import Status, StatusCode

from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import Outcome, checkout_request, main, run_story

TITLE = "3. A task that outlives its request"
LESSON = "create_task(work) with no deadline runs on after the answer; bound it by the request's deadline."

#: How long the request takes, its deadline, and how long the work would take if left alone.
REQUEST_S = 0.05
DEADLINE_S = 0.2
WORK_S = 0.8


async def send_confirmation(recorder: Recorder) -> None:
    with recorder.tracer().start_as_current_span("send confirmation") as span:
        try:
            await asyncio.sleep(WORK_S)  # a slow mail server
        except asyncio.CancelledError:
            span.set_attribute("error.type", "CancelledError")
            span.set_status(Status(StatusCode.ERROR, "cancelled at the request's deadline"))
            raise


class RequestTasks:
    """Tasks bound to one request's deadline, kept until they end (see shoptrace.background)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._bounded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _bounded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            async with asyncio.timeout_at(self.deadline):
                await work
        except TimeoutError:
            pass  # recorded on the work's span


async def _let_everything_finish() -> None:
    """A server lives on after the request: give any leftover task the time it wants."""
    await asyncio.sleep(WORK_S + 0.2)


async def _broken(recorder: Recorder) -> None:
    with checkout_request(recorder):
        asyncio.create_task(send_confirmation(recorder))  # fire and forget: no deadline, no reference
        await asyncio.sleep(REQUEST_S)
    await _let_everything_finish()


async def _fixed(recorder: Recorder) -> None:
    with checkout_request(recorder):
        tasks = RequestTasks(deadline=asyncio.get_running_loop().time() + DEADLINE_S)
        tasks.start(send_confirmation(recorder))
        await asyncio.sleep(REQUEST_S)
    await _let_everything_finish()


def broken() -> Outcome:
    return run_story("broken: create_task(work)", _broken)


def fixed() -> Outcome:
    return run_story("fixed: bound to the request's deadline", _fixed)


def pairs() -> list[tuple[Outcome, Outcome]]:
    return [(broken(), fixed())]


if __name__ == "__main__":
    main(TITLE, LESSON, *pairs())
