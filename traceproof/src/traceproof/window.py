"""Every trace of a time window, read from Jaeger's query API, however many the window holds.

Jaeger's search (``/api/v3/traces``) answers at most ``query.num_traces``
traces of one service per call, and which ones it keeps when more match is up
to its storage. So a window is read service by service (``/api/v3/services``),
in time slices narrow enough that each answer comes back short of that limit:
an answer that reaches it is asked again in narrower slices, as many as its
own density says are needed. A trace has spans in more than one service and
more than one slice; it is kept once, by id (a later answer that holds more of
its spans replaces it), and each answer's JSON is dropped before the next
call, so memory holds the spans and no more.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from traceproof.errors import WindowTooLarge
from traceproof.spans import Span, by_trace, from_otlp_json

#: Traces asked for per call: an answer of this many runs to a few MB of JSON.
PAGE_SIZE = 500
#: The memory budget of one window, in spans: a span read back takes about 3 KB, so this is about 1.5 GB.
MAX_SPANS = 500_000
#: The narrowest slice the reader asks for; a crowd of traces denser than a page per slice is read as far as Jaeger answers.
MIN_SLICE_NS = 1_000_000


class TraceSearch(Protocol):
    """The two calls of Jaeger's query API the reader needs."""

    def services(self) -> list[str]: ...

    def search(self, service: str, start_ns: int, end_ns: int, limit: int) -> dict[str, Any]: ...


@dataclass
class Window:
    """A window's traces, by id, and how the reading went."""

    start_ns: int
    end_ns: int
    traces: dict[str, list[Span]] = field(default_factory=dict)
    services: list[str] = field(default_factory=list)
    calls: int = 0
    #: (service, start_ns, end_ns) of slices that still held a full page at the narrowest width: some traces there may be missing.
    crowded: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def span_count(self) -> int:
        return sum(len(spans) for spans in self.traces.values())


def check_budget(window: Window, max_spans: int) -> None:
    """WindowTooLarge once the window holds more than ``max_spans`` spans: said, rather than the process killed."""
    check_count(window.span_count, max_spans)


def check_count(held: int, max_spans: int) -> None:
    """WindowTooLarge once ``held`` spans are more than ``max_spans``."""
    if held > max_spans:
        raise WindowTooLarge(
            f"the window holds more than {max_spans:,} spans, the memory budget (about 3 KB a span): narrow it "
            "(--since/--until, or --service for your own services), or raise --max-spans if the memory is there"
        )


def hex_id(value: str) -> str:
    """A trace id as Jaeger writes it (hex) or as protobuf's JSON mapping does (base64), in lowercase hex."""
    if len(value) == 32:
        return value.lower()
    return base64.b64decode(value).hex()


def otlp_spans(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(resourceSpans, scopeSpans, span) for every span of an answer."""
    for rs in payload.get("result", payload).get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for span in ss.get("spans", []):
                yield rs, ss, span


def _first_starts(payload: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Each trace of an answer: (span count, earliest span start in ns)."""
    found: dict[str, tuple[int, int]] = {}
    for _, _, span in otlp_spans(payload):
        trace_id, start = hex_id(span["traceId"]), int(span.get("startTimeUnixNano", 0))
        count, first = found.get(trace_id, (0, start))
        found[trace_id] = (count + 1, min(first, start))
    return found


def only(payload: dict[str, Any], trace_ids: set[str]) -> dict[str, Any]:
    """The answer cut down to the spans of ``trace_ids``, in the same OTLP JSON shape."""
    resource_spans = []
    for rs in payload.get("result", payload).get("resourceSpans", []):
        scopes = []
        for ss in rs.get("scopeSpans", []):
            spans = [s for s in ss.get("spans", []) if hex_id(s["traceId"]) in trace_ids]
            if spans:
                scopes.append({**ss, "spans": spans})
        if scopes:
            resource_spans.append({**rs, "scopeSpans": scopes})
    return {"resourceSpans": resource_spans}


def _slices(start_ns: int, end_ns: int, firsts: Sequence[int], page_size: int) -> list[tuple[int, int]]:
    """A full answer's slice cut into as many as its density asks for, each expected to hold half a page.

    A storage that keeps the latest traces answers a page that reaches back
    only part of the slice, and that part says how dense the slice is; one
    that keeps others answers a page from all over it, and halving is all that
    can be said. Neighbouring slices share their edge, so none is lost there.
    """
    reached_back = max(1, end_ns - max(start_ns, min(firsts)))
    expected = page_size * (end_ns - start_ns) / reached_back
    count = max(2, min(math.ceil(expected / (page_size / 2)), (end_ns - start_ns) // MIN_SLICE_NS))
    edges = [start_ns + (end_ns - start_ns) * i // count for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


class WindowReader:
    """Reads every trace of a window through a :class:`TraceSearch`, ``page_size`` traces a call at most."""

    def __init__(self, search: TraceSearch, page_size: int = PAGE_SIZE, max_spans: int = MAX_SPANS) -> None:
        self._search = search
        self.page_size = page_size
        self.max_spans = max_spans

    def read(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        """Every trace with a span that started in ``[start_ns, end_ns]``, of every service (or of ``services``)."""
        window = Window(start_ns, end_ns, services=list(services) if services is not None else self._search.services())
        for service in window.services:
            self._read_service(window, service)
        return window

    def _read_service(self, window: Window, service: str) -> None:
        pending = [(window.start_ns, window.end_ns)]
        while pending:
            start_ns, end_ns = pending.pop()
            payload = self._search.search(service, start_ns, end_ns, self.page_size)
            window.calls += 1
            found = _first_starts(payload)
            self._keep(window, payload, found)
            del payload
            check_budget(window, self.max_spans)
            if len(found) < self.page_size:
                continue
            if end_ns - start_ns <= MIN_SLICE_NS:
                window.crowded.append((service, start_ns, end_ns))
                continue
            pending.extend(_slices(start_ns, end_ns, [first for _, first in found.values()], self.page_size))

    @staticmethod
    def _keep(window: Window, payload: dict[str, Any], found: dict[str, tuple[int, int]]) -> None:
        """Take the traces not held yet, and those this answer holds more spans of."""
        wanted = {trace_id for trace_id, (count, _) in found.items() if count > len(window.traces.get(trace_id, ()))}
        if not wanted:
            return
        window.traces.update(by_trace(from_otlp_json(only(payload, wanted))))
