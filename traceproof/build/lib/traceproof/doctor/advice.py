"""For each kind of break, its likely cause and its fix, one sentence each, in the words of the services involved."""

from __future__ import annotations

from traceproof.doctor.findings import Kind, Side


def cause_and_fix(kind: Kind, side: Side, message: bool, caller: str, callee: str | None) -> tuple[str, str]:
    """(cause, fix) of a break of ``kind`` on a call from ``caller`` to ``callee``."""
    other = callee or "the service it calls"
    if kind is Kind.LOST_PARENT:
        return (
            f"Spans of {caller}'s traces never reached Jaeger, or had not yet: the pipeline (an exporter's queue, "
            "the Collector, the storage) lost them; the code did carry the context.",
            "Find where spans are lost: the Collector's refused and failed span counters, its memory limit and queues, "
            "the services' export timeouts; a Collector that restarts loses the spans it held.",
        )
    if kind is Kind.NO_CLIENT_SPAN:
        return (
            f"{caller} calls {other} with an HTTP client the instrumentation does not know (made on the side, or "
            f"another library): no CLIENT span, no traceparent, so {other} begins a new trace.",
            f"Make the call with {caller}'s instrumented client, or instrument that client as well.",
        )
    if kind is Kind.CONTEXT_LOST:
        return (
            f"{caller} starts this work without the request's context (a fresh Context(), a thread or executor, "
            "a task or callback started without it), so its span begins a new trace.",
            "Carry the request's context into the work: call in the current context, hand it to threads with "
            "contextvars.copy_context().run or asyncio.to_thread, never a fresh Context().",
        )
    if message:
        return _message(side, caller, other)
    return _request(side, caller, other)


def _request(side: Side, caller: str, callee: str) -> tuple[str, str]:
    if side is Side.SOME_CALLS:
        return (
            f"Some of {caller}'s calls to {callee} carry the context and these do not: a code path in {caller} "
            "sends them without it (headers set by hand, a request built outside the instrumented client).",
            f"Send these calls the way the connected ones go, through {caller}'s instrumented client.",
        )
    if side is Side.CALLER:
        return (
            f"{caller} makes CLIENT spans but sends no context: {callee} reads it from other callers, and no call "
            f"of {caller}'s ever joins another service's trace.",
            f"Set up {caller}'s propagator (OTEL_PROPAGATORS, tracecontext by default), so the instrumentation "
            "injects traceparent.",
        )
    if side is Side.CALLEE:
        return (
            f"{callee} does not read the context {caller} sends: {caller}'s calls join other services' traces, "
            f"but no span of {callee}'s ever continues a caller's.",
            f"Instrument {callee}'s server and set its propagator (OTEL_PROPAGATORS, the same as {caller}'s).",
        )
    if side is Side.BETWEEN:
        return (
            f"Both ends carry context with others, so something between {caller} and {callee} drops it: "
            "a proxy, gateway or load balancer that strips traceparent.",
            f"Make whatever sits between {caller} and {callee} forward traceparent and tracestate.",
        )
    return (
        f"{caller}'s calls reach {callee} without their context, or {callee} ignores it: neither is seen carrying "
        "context with another service.",
        f"Check both ends: {caller}'s propagator and instrumented client, {callee}'s instrumented server and propagator.",
    )


def _message(side: Side, producer: str, consumer: str) -> tuple[str, str]:
    if side is Side.CALLEE:
        return (
            f"{consumer} does not extract the context from the messages' headers, though {producer} puts it there.",
            "Extract it (opentelemetry.propagate.extract(headers)) and start the CONSUMER span in that context.",
        )
    if side is Side.BETWEEN:
        return (
            f"The messages reach {consumer} without the headers {producer} gave them: the queue or a relay drops them.",
            "Carry the headers through the queue (in the message's attributes or headers the broker keeps).",
        )
    some = "Some of " if side is Side.SOME_CALLS else ""
    return (
        f"{some}{producer}'s messages to {consumer} go without the context in their headers, so the consumer begins a new trace.",
        "Inject the context into the message's headers when producing (opentelemetry.propagate.inject), "
        "extract it when consuming, and start the CONSUMER span in it.",
    )
