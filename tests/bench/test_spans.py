"""The gateway bench's synthetic traffic: traces shaped like an order's, each send a set of new traces."""

from __future__ import annotations

import random
from collections import Counter

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from bench.spans import ERROR_SHARE, SPANS_PER_TRACE, build_request, fresh_trace_ids
from traceproof.spans import Span, by_trace, from_otlp


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    return from_otlp(request.resource_spans)


def test_each_trace_is_a_whole_order_and_the_failing_share_is_exact() -> None:
    rng = random.Random(1)
    request = build_request(40, rng)
    fresh_trace_ids(request, 40, rng)
    traces = by_trace(spans_of(request))
    assert len(traces) == 40
    for spans in traces.values():
        assert len(spans) == SPANS_PER_TRACE == 13
        ids = {s.span_id for s in spans}
        assert [s.parent_id for s in spans if s.parent_id not in ids] == [None]  # one root, every parent present
        assert Counter(s.service for s in spans) == {"bench-checkout": 5, "bench-inventory": 8}
    failing = [t for t, spans in traces.items() if any(s.status == "error" for s in spans)]
    assert len(failing) == round(40 * ERROR_SHARE)


def test_every_send_carries_new_trace_ids() -> None:
    rng = random.Random(2)
    request = build_request(10, rng)
    seen: set[str] = set()
    for _ in range(5):
        fresh_trace_ids(request, 10, rng)
        ids = set(by_trace(spans_of(request)))
        assert len(ids) == 10 and not ids & seen
        seen |= ids
