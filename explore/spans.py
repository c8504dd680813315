"""One span model for everything that reads traces back: Jaeger's API, the tests' OTLP sink, the pitfall examples.

Whatever a span came from (OTLP JSON, OTLP protobuf, the SDK's in-memory
exporter), it is turned into this plain dataclass once, so the waterfall, the
tests' assertions and the pitfall examples read spans the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    name: str
    attributes: dict[str, Any]


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    status: str
    status_message: str
    attributes: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0
    scope: str = ""

    def event(self, name: str) -> Event | None:
        return next((e for e in self.events if e.name == name), None)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def error(self) -> tuple[str, str] | None:
        """(exception or error type, message) if this span failed, else None.

        The ``exception`` event says most (type and message of what was
        raised); ``error.type`` is what the HTTP conventions set on a failed
        call (``ReadTimeout``, ``500``); the status message is the last resort.
        """
        if self.status != "ERROR":
            return None
        exception = self.event("exception")
        if exception is not None:
            kind = str(exception.attributes.get("exception.type", "exception"))
            return kind.rsplit(".", 1)[-1], str(exception.attributes.get("exception.message", ""))
        return str(self.attributes.get("error.type", "error")), self.status_message


def by_trace(spans: list[Span]) -> dict[str, list[Span]]:
    """Spans grouped by trace id, in order of each trace's first span."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s.start_ns):
        traces[span.trace_id].append(span)
    return dict(traces)
