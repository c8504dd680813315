"""``python -m bench.span_cost``: what one finished span costs in memory, the figure the span buffer's budget is sized by.

Makes spans shaped like the services' (a SERVER span with the HTTP
attributes the instrumentation sets and an event, and a CLIENT child), keeps
them as the buffer does (finished ``ReadableSpan`` objects), and measures
with tracemalloc what holding them takes, per span. Writes
bench/results/span-cost.json; shoptrace.telemetry.SPAN_COST_BYTES rounds it up.
"""

from __future__ import annotations

import gc
import json
import tracemalloc

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench.machine import machine
from bench.services import ROOT

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
    result = {"machine": machine(), "spans": spans, "bytes_per_span": round(grown / spans)}
    path = ROOT / "bench" / "results" / "span-cost.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['bytes_per_span']} bytes per finished span ({spans} spans held); wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
