"""Pitfall 4: a client created outside the instrumentation.

Only an instrumented httpx client makes a CLIENT span and injects
``traceparent``. A client made on the side (at import time, in a helper, a
second ``httpx.AsyncClient()`` "just for this call") sends the request bare:
the downstream service starts a new trace, and the call is missing from the
caller's. Use the one client the service instrumented
(``HTTPXClientInstrumentor.instrument_client``, as checkout/inventory_client.py
does), and never add the global ``instrument()`` on top, which nests
duplicate spans.

    python -m examples.pitfalls.uninstrumented_client
"""

from __future__ import annotations

from examples.pitfalls.downstream import inventory_client
from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import Outcome, Story, checkout_request, main, run_story

TITLE = "4. A client created outside the instrumentation"
LESSON = "A bare httpx.AsyncClient() sends no traceparent: inventory starts a trace of its own."


#: Exported, the request checks this item first, through the instrumented client.
#: The doctor learns where checkout calls from only from calls that connect, so
#: this call lets it name the broken run in a window of its own, as it names a
#: service that breaks on one code path only. In memory the runs stay as small
#: as the lesson.
FIRST_ITEM_WHEN_EXPORTED = "item-456"


def _story(instrumented: bool) -> Story:
    async def story(recorder: Recorder) -> None:
        async with inventory_client(recorder) as own_client, inventory_client(recorder, instrumented=instrumented) as client:
            with checkout_request(recorder):
                if recorder.exporting:
                    (await own_client.get(f"/stock/{FIRST_ITEM_WHEN_EXPORTED}")).raise_for_status()
                (await client.get("/stock/item-123")).raise_for_status()

    return story


def broken() -> Outcome:
    return run_story("broken: httpx.AsyncClient()", _story(instrumented=False))


def fixed() -> Outcome:
    return run_story("fixed: the instrumented client", _story(instrumented=True))


def pairs() -> list[tuple[Outcome, Outcome]]:
    return [(broken(), fixed())]


if __name__ == "__main__":
    main(TITLE, LESSON, *pairs())
