"""What reached Jaeger: every span of a time window, and how soon after the response a trace is whole.

Both read Jaeger's query API through :mod:`explore.jaeger_api` (the
project's one Jaeger client and OTLP JSON parser). Jaeger's search answers
whole traces, so the spans of a window are counted trace by trace: one
search per slice of ``slice_s`` seconds keeps each answer to a few MB.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from explore.jaeger_api import JaegerClient, JaegerError, parse_otlp_json
from explore.spans import Span


def _rfc3339(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class WindowCount:
    """The traces of a service that started in a window, and how many spans each has in Jaeger."""

    spans_by_trace: dict[str, set[str]] = field(default_factory=dict)
    #: Traces with a span marked ``shoptrace.cancelled``: their client left before the answer.
    cancelled: set[str] = field(default_factory=set)

    @property
    def traces(self) -> int:
        return len(self.spans_by_trace)

    @property
    def spans(self) -> int:
        return sum(len(s) for s in self.spans_by_trace.values())

    def size_histogram(self) -> dict[int, int]:
        """How many traces have each span count: a lost span shows as a trace short of the rest."""
        return dict(sorted(Counter(len(s) for s in self.spans_by_trace.values()).items()))


def count_window(jaeger_url: str, service: str, start_s: float, end_s: float, slice_s: float = 0.5) -> WindowCount:
    """Every span of every trace of ``service`` that started between ``start_s`` and ``end_s`` (epoch seconds)."""
    count = WindowCount()
    with httpx.Client(base_url=jaeger_url, timeout=120.0) as http:
        t = start_s
        while t < end_s:
            upper = min(t + slice_s, end_s)
            response = http.get(
                "/api/v3/traces",
                params={
                    "query.service_name": service,
                    "query.start_time_min": _rfc3339(t),
                    "query.start_time_max": _rfc3339(upper),
                    "query.num_traces": "1000000",
                },
            )
            if response.status_code != 404:  # 404: no trace in this slice
                response.raise_for_status()
                for span in parse_otlp_json(response.json()):
                    count.spans_by_trace.setdefault(span.trace_id, set()).add(span.span_id)
                    if span.attributes.get("shoptrace.cancelled"):
                        count.cancelled.add(span.trace_id)
            t = upper
    return count


def whole_trace(client: JaegerClient, trace_id: str, expected_spans: int | None, timeout_s: float) -> list[Span] | None:
    """The trace once Jaeger has all of it, or None after ``timeout_s``.

    ``expected_spans`` None: wait until the span count has not changed for 1 s.
    """
    deadline = time.monotonic() + timeout_s
    spans: list[Span] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        try:
            found = client.trace(trace_id)
        except JaegerError:  # not there yet, or Jaeger busy or restarting: ask again until the deadline
            found = []
        if expected_spans is not None and len(found) >= expected_spans:
            return found
        if len(found) != len(spans):
            spans, stable_since = found, time.monotonic()
        elif expected_spans is None and spans and time.monotonic() - stable_since >= 1.0:
            return spans
        time.sleep(0.01 if expected_spans is not None else 0.1)
    return None
