"""A Jaeger query API over HTTP that answers from spans the test holds: services, search by window, one trace by id.

Its search behaves as Jaeger's does where the reader depends on it: whole
traces that have a span of the service starting in the window, at most
``query.num_traces`` of them, 404 when none. Which traces a full answer keeps
is Jaeger's storage's choice, so the fake keeps the latest or the earliest,
as the test asks. Ids are written in hex, as Jaeger writes them.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from json_server import JsonServer
from traceproof.spans import Span


def parse_rfc3339(text: str) -> int:
    """``2023-11-14T22:13:20.000000001Z`` in ns since the epoch."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S")) * 1_000_000_000 + int((fraction or "0").ljust(9, "0")[:9])


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def _span_json(span: Span) -> dict[str, Any]:
    return {
        "traceId": span.trace_id,
        "spanId": span.span_id,
        "parentSpanId": span.parent_id or "",
        "name": span.name,
        "kind": f"SPAN_KIND_{span.kind.upper()}",
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": [{"key": k, "value": _value(v)} for k, v in span.attributes.items()],
        "links": [{"traceId": t, "spanId": s} for t, s in span.links],
        "events": [
            {
                "name": e.name,
                "timeUnixNano": str(span.start_ns),
                "attributes": [{"key": k, "value": _value(v)} for k, v in e.attributes.items()],
            }
            for e in span.events
        ],
        "status": {}
        if span.status == "unset"
        else {"code": f"STATUS_CODE_{span.status.upper()}", "message": span.status_message},
    }


def otlp_json(spans: Iterable[Span]) -> dict[str, Any]:
    """Spans as Jaeger's ``/api/v3`` answers them: ``{"result": {"resourceSpans": [...]}}``, one resource per service."""
    by_service: dict[str, list[Span]] = {}
    for span in spans:
        by_service.setdefault(span.service, []).append(span)
    return {
        "result": {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                    "scopeSpans": [{"scope": {"name": "tests"}, "spans": [_span_json(s) for s in spans]}],
                }
                for service, spans in by_service.items()
            ]
        }
    }


class FakeJaeger(JsonServer):
    """Serves ``spans``: a list the test may change while it runs, or what a callable returns at each request
    (a receiver's spans as they arrive); ``searches`` counts the calls to the search."""

    def __init__(self, spans: list[Span] | Callable[[], list[Span]], keeps: str = "latest") -> None:
        self.spans = spans
        self.keeps = keeps
        self.searches = 0
        self.lock = threading.Lock()

        def locked(path: str, query: dict[str, str]) -> tuple[int, Any]:
            with self.lock:
                return self.answer(path, query)

        super().__init__(locked)

    def held(self) -> list[Span]:
        return self.spans() if callable(self.spans) else self.spans

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        held = self.held()
        not_found = (404, {"error": {"httpCode": 404, "message": "trace not found"}})
        if path == "/api/v3/services":
            return 200, {"services": sorted({s.service for s in held})}
        if path == "/api/v3/traces":
            self.searches += 1
            found = self.search(
                query["query.service_name"],
                parse_rfc3339(query["query.start_time_min"]),
                parse_rfc3339(query["query.start_time_max"]),
                int(query["query.num_traces"]),
            )
            return (200, otlp_json(found)) if found else not_found
        if path.startswith("/api/v3/traces/"):
            trace_id = path.rsplit("/", 1)[-1]
            spans = [s for s in held if s.trace_id == trace_id]
            return (200, otlp_json(spans)) if spans else not_found
        return not_found

    def search(self, service: str, start_ns: int, end_ns: int, limit: int) -> list[Span]:
        """Whole traces with a span of ``service`` that started in the window: the latest (or earliest) ``limit`` of them."""
        held = self.held()
        matched: dict[str, int] = {}
        for span in held:
            if span.service == service and start_ns <= span.start_ns <= end_ns:
                matched[span.trace_id] = max(matched.get(span.trace_id, 0), span.start_ns)
        order = sorted(matched, key=lambda t: matched[t], reverse=self.keeps == "latest")
        kept = set(order[:limit])
        return [s for s in held if s.trace_id in kept]
