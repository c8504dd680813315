"""A tiny traced program for tests/test_span_journal.py: ``python -m tests.support.journal_child``, set up by the kit.

It reads commands from stdin, one a line, and answers each on stdout once done:

* ``delivered``: a span, ended and flushed (so delivered, the Collector up); answers its span id;
* ``undelivered``: a span ended while the Collector is away; answers its span id;
* ``open TRACEPARENT``: a SERVER span under that remote parent, left open, with an ended child; answers both ids;
* ``flush``: what was recovered at start-up (and anything since) sent; answers ``flushed``.

The test kills it with SIGKILL wherever it likes: nothing here handles it.
"""

from __future__ import annotations

import sys

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shoptrace import telemetry


def main() -> None:
    tracing = telemetry.setup("journal-child")
    assert tracing.provider is not None
    tracer = trace.get_tracer("tests.support.journal_child", "1.0")
    print("started", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command in ("delivered", "undelivered"):
            with tracer.start_as_current_span(command, attributes={"test.kind": command}) as span:
                span.add_event("an event", {"n": 1})
            if command == "delivered":
                assert tracing.force_flush(30), "not delivered"
            print(f"{span.get_span_context().span_id:016x}", flush=True)
        elif command == "open":
            parent = TraceContextTextMapPropagator().extract({"traceparent": args[0]})
            server = tracer.start_span(
                "POST /reservations", context=parent, kind=SpanKind.SERVER, attributes={"test.at": "start"}
            )
            with trace.use_span(server), tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as child:
                pass
            print(f"{server.get_span_context().span_id:016x} {child.get_span_context().span_id:016x}", flush=True)
        elif command == "flush":
            assert tracing.force_flush(30), "not flushed"
            print("flushed", flush=True)


if __name__ == "__main__":
    main()
