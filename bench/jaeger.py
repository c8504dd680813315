"""What reached Jaeger in a time window: every span, counted trace by trace.

Jaeger's search answers whole traces, so the spans of a window are counted
one slice of ``slice_s`` seconds at a time, which keeps each answer to a few MB.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from traceproof.jaeger import JaegerClient
from traceproof.spans import Span, from_otlp_json


def spans_between(jaeger: JaegerClient, service: str, start_s: float, end_s: float) -> list[Span]:
    """Every span of the traces of ``service`` that started between ``start_s`` and ``end_s`` (epoch seconds).

    Jaeger's search answers whole traces: keep the window small (half a second
    at a time here) or the answer runs to many MB.
    """
    answer = jaeger.search(service, round(start_s * 1e9), round(end_s * 1e9), 1_000_000)
    return from_otlp_json(answer) if answer else []


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
    with JaegerClient(jaeger_url, timeout_s=120.0) as jaeger:
        t = start_s
        while t < end_s:
            upper = min(t + slice_s, end_s)
            for span in spans_between(jaeger, service, t, upper):
                count.spans_by_trace.setdefault(span.trace_id, set()).add(span.span_id)
                if span.attributes.get("shoptrace.cancelled"):
                    count.cancelled.add(span.trace_id)
            t = upper
    return count
