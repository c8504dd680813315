"""A window's spans, indexed for the questions the doctor asks of them.

Whose parent is missing from its trace, which call has a child, which spans
were joined across services, and which requests a service was serving at a
given instant: each is answered from an index built once, so judging a window
costs about a sort of its spans.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from itertools import accumulate

from traceproof.spans import Span

#: Span kinds that begin a service's work for someone else: a request served, a message consumed.
ENTRY_KINDS = frozenset({"server", "consumer"})
#: Span kinds that hand work to someone else: a request made, a message published.
CALL_KINDS = frozenset({"client", "producer"})

SpanKey = tuple[str, str]


def key(span: Span) -> SpanKey:
    return (span.trace_id, span.span_id)


class Requests:
    """The requests one service served (its SERVER and CONSUMER spans), to ask which were in progress when."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self._spans = sorted(spans, key=lambda s: s.start_ns)
        self._starts = [s.start_ns for s in self._spans]
        # The latest end among the requests that began up to each one: where a backward scan can stop.
        self._reach = list(accumulate((s.end_ns for s in self._spans), max))

    def __len__(self) -> int:
        return len(self._spans)

    def spans(self) -> Sequence[Span]:
        """The requests, in order of start."""
        return self._spans

    def in_progress(self, start_ns: int, end_ns: int, besides_trace: str, skew_ns: int = 0) -> list[Span]:
        """Requests (not of ``besides_trace``) begun by ``start_ns`` and not ended by ``end_ns``; latest first."""
        found = []
        i = bisect_right(self._starts, start_ns + skew_ns)
        while i > 0:
            i -= 1
            if self._reach[i] < end_ns - skew_ns:
                break
            span = self._spans[i]
            if span.end_ns >= end_ns - skew_ns and span.trace_id != besides_trace:
                found.append(span)
        return found


class TraceIndex:
    """The spans of a window, by trace, with their parents, children, links and each service's requests."""

    def __init__(self, traces: Mapping[str, Sequence[Span]]) -> None:
        self.traces = {trace_id: list(spans) for trace_id, spans in traces.items()}
        self._spans = {key(s): s for spans in self.traces.values() for s in spans}
        self._children: dict[SpanKey, list[Span]] = {}
        self._linked_to: set[SpanKey] = set()
        self.orphans: list[Span] = []
        roots = []
        entries: dict[str, list[Span]] = {}
        for span in self._spans.values():
            if span.parent_id is None:
                roots.append(span)
            elif (span.trace_id, span.parent_id) in self._spans:
                self._children.setdefault((span.trace_id, span.parent_id), []).append(span)
            else:
                self.orphans.append(span)
            self._linked_to.update(span.links)
            if span.kind in ENTRY_KINDS:
                entries.setdefault(span.service, []).append(span)
        self.roots = sorted(roots, key=lambda s: s.start_ns)
        self.services = sorted({s.service for s in self._spans.values()})
        self._requests = {service: Requests(spans) for service, spans in entries.items()}

    def spans(self) -> Iterator[Span]:
        return iter(self._spans.values())

    def parent(self, span: Span) -> Span | None:
        return self._spans.get((span.trace_id, span.parent_id)) if span.parent_id else None

    def children(self, span: Span) -> list[Span]:
        return self._children.get(key(span), [])

    def linked_to(self, span: Span) -> bool:
        """Whether a span elsewhere links to this one (a consumer of a batch, a trace started on purpose)."""
        return key(span) in self._linked_to

    def requests(self, service: str) -> Requests:
        return self._requests.get(service) or Requests(())

    def remote_calls(self) -> Iterator[tuple[Span, Span]]:
        """(call, the span that continued it in another service): every hop the context made across services."""
        for span in self._spans.values():
            parent = self.parent(span)
            if parent is not None and parent.service != span.service and parent.kind in CALL_KINDS:
                yield parent, span
