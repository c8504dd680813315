"""Pitfall 2: work handed to a thread without the request's context.

A thread has its own ``contextvars`` context, empty: a span started on a
pool thread has no parent and starts a new trace. ``ThreadPoolExecutor.submit``
and ``loop.run_in_executor`` hand over the function only; hand over the
context with it (``contextvars.copy_context().run``), or use
``asyncio.to_thread``, which does exactly that (inventory/store.py and
checkout/orders.py do both).

    python -m examples.pitfalls.threads
"""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import Outcome, checkout_request, main, run_story

TITLE = "2. Work handed to a thread without the context"
LESSON = "A pool thread starts with an empty context: submit(fn) and run_in_executor(None, fn) orphan fn's spans."

#: How each variant hands ``render_receipt`` to a thread, and whether it keeps the trace.
HANDOVERS = {
    "executor.submit(fn)": False,
    "loop.run_in_executor(None, fn)": False,
    "executor.submit(copy_context().run, fn)": True,
    "asyncio.to_thread(fn)": True,
}


def _render_receipt(recorder: Recorder) -> bytes:
    """Blocking work, as a real shop renders a PDF: on a thread, with a span of its own."""
    with recorder.tracer().start_as_current_span("render receipt"):
        return b"receipt"


async def _hand_over(how: str, recorder: Recorder, pool: ThreadPoolExecutor) -> bytes:
    loop = asyncio.get_running_loop()
    if how == "executor.submit(fn)":
        return await asyncio.wrap_future(pool.submit(_render_receipt, recorder))
    if how == "loop.run_in_executor(None, fn)":
        return await loop.run_in_executor(pool, _render_receipt, recorder)
    if how == "executor.submit(copy_context().run, fn)":
        return await asyncio.wrap_future(pool.submit(contextvars.copy_context().run, _render_receipt, recorder))
    if how == "asyncio.to_thread(fn)":
        return await asyncio.to_thread(_render_receipt, recorder)
    raise ValueError(how)


def run(how: str) -> Outcome:
    async def story(recorder: Recorder) -> None:
        with ThreadPoolExecutor(max_workers=1) as pool, checkout_request(recorder):
            await _hand_over(how, recorder, pool)

    return run_story(("fixed: " if HANDOVERS[how] else "broken: ") + how, story)


def pairs() -> list[tuple[Outcome, Outcome]]:
    return [
        (run("executor.submit(fn)"), run("executor.submit(copy_context().run, fn)")),
        (run("loop.run_in_executor(None, fn)"), run("asyncio.to_thread(fn)")),
    ]


if __name__ == "__main__":
    main(TITLE, LESSON, *pairs())
