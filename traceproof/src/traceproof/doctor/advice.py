"""For each kind of break, its likely cause and its fix, one sentence each, in the words of the services involved.

The sentences are templates over ``{caller}`` and ``{callee}`` (for a message: its producer and consumer),
looked up by the break's kind and, for a call that lost its context, by which end the evidence points at.
"""

from __future__ import annotations

from traceproof.doctor.findings import BreakKind, Side

#: (cause, fix) of the kinds whose advice does not depend on the side.
_BY_KIND = {
    BreakKind.LOST_PARENT: (
        "Spans of {caller}'s traces never reached Jaeger, or had not yet: the pipeline (an exporter's queue, "
        "the Collector, the storage) lost them; the code did carry the context.",
        "Find where spans are lost: the Collector's refused and failed span counters, its memory limit and queues, "
        "the services' export timeouts; a Collector that restarts loses the spans it held.",
    ),
    BreakKind.NO_CLIENT_SPAN: (
        "{caller} calls {callee} with an HTTP client the instrumentation does not know (made on the side, or "
        "another library): no CLIENT span, no traceparent, so {callee} begins a new trace.",
        "Make the call with {caller}'s instrumented client, or instrument that client as well.",
    ),
    BreakKind.CONTEXT_LOST: (
        "{caller} starts this work without the request's context (a fresh Context(), a thread or executor, "
        "a task or callback started without it), so its span begins a new trace.",
        "Carry the request's context into the work: call in the current context, hand it to threads with "
        "contextvars.copy_context().run or asyncio.to_thread, never a fresh Context().",
    ),
}

#: (cause, fix) of a request that lost its context, by the end the evidence points at; UNKNOWN for the rest.
_REQUEST = {
    Side.SOME_CALLS: (
        "Some of {caller}'s calls to {callee} carry the context and these do not: a code path in {caller} "
        "sends them without it (headers set by hand, a request built outside the instrumented client).",
        "Send these calls the way the connected ones go, through {caller}'s instrumented client.",
    ),
    Side.CALLER: (
        "{caller} makes CLIENT spans but sends no context: {callee} reads it from other callers, and no call "
        "of {caller}'s ever joins another service's trace.",
        "Set up {caller}'s propagator (OTEL_PROPAGATORS, tracecontext by default), so the instrumentation injects traceparent.",
    ),
    Side.CALLEE: (
        "{callee} does not read the context {caller} sends: {caller}'s calls join other services' traces, "
        "but no span of {callee}'s ever continues a caller's.",
        "Instrument {callee}'s server and set its propagator (OTEL_PROPAGATORS, the same as {caller}'s).",
    ),
    Side.BETWEEN: (
        "Both ends carry context with others, so something between {caller} and {callee} drops it: "
        "a proxy, gateway or load balancer that strips traceparent.",
        "Make whatever sits between {caller} and {callee} forward traceparent and tracestate.",
    ),
    Side.UNKNOWN: (
        "{caller}'s calls reach {callee} without their context, or {callee} ignores it: neither is seen carrying "
        "context with another service.",
        "Check both ends: {caller}'s propagator and instrumented client, {callee}'s instrumented server and propagator.",
    ),
}

#: (cause, fix) of a message that lost its context ({caller} produced it, {callee} consumed it); UNKNOWN for the rest.
_MESSAGE = {
    Side.CALLEE: (
        "{callee} does not extract the context from the messages' headers, though {caller} puts it there.",
        "Extract it (opentelemetry.propagate.extract(headers)) and start the CONSUMER span in that context.",
    ),
    Side.BETWEEN: (
        "The messages reach {callee} without the headers {caller} gave them: the queue or a relay drops them.",
        "Carry the headers through the queue (in the message's attributes or headers the broker keeps).",
    ),
    Side.UNKNOWN: (
        "{some}{caller}'s messages to {callee} go without the context in their headers, so the consumer begins a new trace.",
        "Inject the context into the message's headers when producing (opentelemetry.propagate.inject), "
        "extract it when consuming, and start the CONSUMER span in it.",
    ),
}


def cause_and_fix(kind: BreakKind, side: Side, message: bool, caller: str, callee: str | None) -> tuple[str, str]:
    """(cause, fix) of a break of ``kind`` on a call from ``caller`` to ``callee``."""
    if kind in _BY_KIND:
        cause, fix = _BY_KIND[kind]
    else:
        by_side = _MESSAGE if message else _REQUEST
        cause, fix = by_side.get(side, by_side[Side.UNKNOWN])
    words = {"caller": caller, "callee": callee or "the service it calls", "some": "Some of " if side is Side.SOME_CALLS else ""}
    return cause.format(**words), fix.format(**words)
