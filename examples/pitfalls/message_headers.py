"""Pitfall 5: a message crosses a queue without its context (the tutorial's "custom protocol").

No instrumentation knows a home-made queue, a job table or a custom
protocol, so nothing carries the trace across it: the consumer starts a new
trace. Do by hand what the HTTP instrumentations do: inject the current
context into the message's headers with the configured propagator
(``opentelemetry.propagate.inject``, W3C ``traceparent`` by default) when
producing, extract it when consuming, and start the CONSUMER span in it.

    python -m examples.pitfalls.message_headers
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass, field

from opentelemetry import propagate
from opentelemetry.trace import SpanKind

from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import Outcome, Story, checkout_request, main, run_story

TITLE = "5. Propagation over a message queue, by hand"
LESSON = "Inject the context into the message's headers when producing, extract it when consuming: one trace."


#: The messaging conventions' attributes of each end: the queue, and what was done with the message.
#: Where the context did not cross, they are what still ties a message's two ends together.
_ORDERS_SEND = {
    "messaging.destination.name": "orders",
    "messaging.operation.type": "send",
    "messaging.operation.name": "publish",
}
_ORDERS_PROCESS = {
    "messaging.destination.name": "orders",
    "messaging.operation.type": "process",
    "messaging.operation.name": "process",
}


@dataclass
class Message:
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


async def publish(recorder: Recorder, queue: asyncio.Queue[Message], body: dict[str, str], carry_context: bool) -> None:
    with recorder.tracer("checkout").start_as_current_span("orders publish", kind=SpanKind.PRODUCER, attributes=_ORDERS_SEND):
        message = Message(body)
        if carry_context:
            propagate.inject(message.headers)  # writes traceparent (and tracestate, baggage)
        await queue.put(message)


async def consume_one(recorder: Recorder, queue: asyncio.Queue[Message], carry_context: bool) -> None:
    message = await queue.get()
    parent = propagate.extract(message.headers) if carry_context else None
    with recorder.tracer("mailer").start_as_current_span(
        "orders process", context=parent, kind=SpanKind.CONSUMER, attributes=_ORDERS_PROCESS
    ):
        await asyncio.sleep(0.001)  # send the mail


def _story(carry_context: bool) -> Story:
    async def story(recorder: Recorder) -> None:
        queue: asyncio.Queue[Message] = asyncio.Queue()
        # The consumer is another worker: its own, empty context, like another process.
        consumer = asyncio.create_task(consume_one(recorder, queue, carry_context), context=contextvars.Context())
        with checkout_request(recorder):
            await publish(recorder, queue, {"order_id": "42"}, carry_context)
        await consumer

    return story


def broken() -> Outcome:
    return run_story("broken: headers left empty", _story(carry_context=False))


def fixed() -> Outcome:
    return run_story("fixed: inject, then extract", _story(carry_context=True))


def pairs() -> list[tuple[Outcome, Outcome]]:
    return [(broken(), fixed())]


if __name__ == "__main__":
    main(TITLE, LESSON, *pairs())
