"""``python -m bench.span_cost``: what one finished span costs in memory, the figure the span buffer's budget is sized by.

Makes spans shaped like the services' (a SERVER span with the HTTP
attributes the instrumentation sets and an event, and a CLIENT child), keeps
them as the buffer does (finished ``ReadableSpan`` objects), and measures
with tracemalloc what holding them takes, per span. Writes
bench/results/span-cost.json; shoptrace.telemetry.SPAN_COST_BYTES rounds it up.

Then what the span journal (shoptrace.span_journal) adds to each span, in
the request path: the same pairs made with the journal as the provider's
only processor, against none, best of :data:`ROUNDS` (the least disturbed by
the rest of the machine), and the bytes a span takes in its ring (what
DEFAULT_SPAN_JOURNAL_MB is sized by). A delivered batch's record is the
sender thread's, off the request path, and counted in the bytes only.
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench.machine import machine
from bench.services import ROOT
from shoptrace.journal_startup import open_journal

SERVER_ATTRIBUTES = {
    "http.request.method": "POST",
    "url.scheme": "http",
    "url.path": "/checkout",
    "http.route": "/checkout",
    "server.address": "localhost",
    "server.port": 8080,
    "client.address": "172.18.0.1",
    "client.port": 51234,
    "network.protocol.version": "1.1",
    "user_agent.original": "python-httpx/0.28.1",
    "http.response.status_code": 201,
}
CLIENT_ATTRIBUTES = {
    "http.request.method": "GET",
    "url.full": "http://inventory:8081/stock/item-123",
    "server.address": "inventory",
    "server.port": 8081,
    "network.protocol.version": "1.1",
    "http.response.status_code": 200,
}
PAIRS = 5000
#: The journal's timing: rounds of PAIRS, the best of each kept.
ROUNDS = 7


def _order(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("opentelemetry.instrumentation.fastapi", "0.66b1")
    with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER, attributes=SERVER_ATTRIBUTES) as span:
        with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=CLIENT_ATTRIBUTES):
            pass
        span.add_event("order placed", {"order.id": "0" * 32})


def _seconds_per_span(provider: TracerProvider) -> float:
    started = time.perf_counter()
    for _ in range(PAIRS):
        _order(provider)
    return (time.perf_counter() - started) / (2 * PAIRS)


def journal_cost() -> dict[str, float]:
    """Microseconds the span journal adds to a span (its start and its end), and the bytes a span takes in its ring."""
    resource = Resource.create({"service.name": "checkout"})
    bare = TracerProvider(resource=resource, shutdown_on_exit=False)
    with tempfile.TemporaryDirectory(prefix="shoptrace-journal-") as work:
        opened = open_journal(Path(work), "checkout", 64 * 1024 * 1024, resource)
        assert opened is not None
        journaled = TracerProvider(resource=resource, shutdown_on_exit=False)
        journaled.add_span_processor(opened.journal)
        without, with_journal = float("inf"), float("inf")
        for _ in range(ROUNDS + 1):  # interleaved, so a busy moment of the machine weighs on both; the first warms
            without, with_journal = min(without, _seconds_per_span(bare)), min(with_journal, _seconds_per_span(journaled))
            opened.journal._pending.clear()  # as if delivered: the ring's bookkeeping is not what is timed
        written_before = opened.journal.file.written
        spans = 2 * PAIRS
        _seconds_per_span(journaled)
        ended = [_FakeSpanId(i) for i in range(spans)]
        for first in range(0, spans, 512):  # what the span buffer records of them once delivered, a batch at a time
            opened.journal.delivered(ended[first : first + 512])  # type: ignore[arg-type]
        bytes_per_span = (opened.journal.file.written - written_before) / spans
        opened.journal.shutdown()
    return {
        "us_per_span": round((with_journal - without) * 1e6, 2),
        "us_per_span_without": round(without * 1e6, 2),
        "bytes_per_span": round(bytes_per_span),
    }


class _FakeSpanId:
    """What ``SpanJournal.delivered`` reads of a span: its context's span id."""

    def __init__(self, span_id: int) -> None:
        self.context = self
        self.span_id = span_id


def main() -> int:
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracer = provider.get_tracer("opentelemetry.instrumentation.fastapi", "0.66b1")

    def order() -> None:
        with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER, attributes=SERVER_ATTRIBUTES) as span:
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT, attributes=CLIENT_ATTRIBUTES):
                pass
            span.add_event("order placed", {"order.id": "0" * 32})

    for _ in range(100):  # warm: first-use allocations are not the spans'
        order()
    kept.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(PAIRS):
        order()
    gc.collect()
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename"))
    spans = len(kept.get_finished_spans())
    tracemalloc.stop()
    result = {"machine": machine(), "spans": spans, "bytes_per_span": round(grown / spans), "journal": journal_cost()}
    path = ROOT / "bench" / "results" / "span-cost.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    journal = result["journal"]
    print(f"{result['bytes_per_span']} bytes per finished span ({spans} spans held)")
    print(f"span journal: {journal['us_per_span']} µs a span added, {journal['bytes_per_span']} bytes a span in its ring")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
