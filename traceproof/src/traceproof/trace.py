"""One trace as a test reads it: its spans with their parents and children, selectors, and assertions that show the trace.

Every failed assertion says what was expected, then draws the trace as a
waterfall (the drawing ``make trace`` prints) with the spans in question
marked, then the trace's log lines where a log source is set. A test's
failure output is then the first thing a person needs to see what happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from traceproof.logs import LogLine
from traceproof.spans import Event, Span
from traceproof.text import plural, to_text
from traceproof.waterfall import render

if TYPE_CHECKING:
    from traceproof.doctor.findings import Break

KINDS = ("server", "client", "internal", "producer", "consumer")
STATUSES = ("error", "ok", "unset")


def said(found: Break, trace_id: str) -> str:
    """A break the doctor finds that involves trace ``trace_id``, as a failure says it: where, what it saw, cause and fix."""
    peer = f" → {found.peer}" if found.peer else ""
    other_trace = found.split_from if found.trace_id == trace_id else found.trace_id
    other = f" (the other piece: trace {other_trace})" if other_trace else ""
    cause, fix = found.advice
    return f"the doctor finds {found.kind} at {found.service}{peer}{other}: {found.evidence}\n    cause: {cause}\n    fix: {fix}"


@dataclass
class Context:
    """What a trace can ask of where it came from: its link, the breaks the doctor finds involving it, its log lines."""

    link: Callable[[str], str | None] = lambda trace_id: None
    breaks: Callable[[Trace], list[Break]] = lambda trace: []
    logs: Callable[[str], tuple[list[LogLine] | None, str]] = lambda trace_id: (None, "")


class TraceSpan:
    """A span of a :class:`Trace`: the exported span (``span``) with its place in the trace."""

    def __init__(self, span: Span, trace: Trace) -> None:
        self.span = span
        self.service, self.name, self.span_id, self.trace_id = span.service, span.name, span.span_id, span.trace_id
        self.kind, self.status = span.kind, span.status
        self.attributes: dict[str, Any] = span.attributes
        self.events: list[Event] = span.events
        self._trace = trace

    @property
    def duration(self) -> timedelta:
        return timedelta(microseconds=self.span.duration_ns / 1000)

    @property
    def parent(self) -> TraceSpan | None:
        """The parent span, or None for a root and for a span whose parent is not in the trace."""
        return self._trace._by_id.get(self.span.parent_id) if self.span.parent_id else None

    @property
    def children(self) -> list[TraceSpan]:
        return [s for s in self._trace.spans if s.span.parent_id == self.span_id]

    def event(self, name: str) -> Event | None:
        return self.span.event(name)

    def matches(self, selectors: Selectors) -> bool:
        return selectors.match(self)

    def assert_error(self, exception_type: type[BaseException] | str | None = None) -> None:
        """The span is in error; with ``exception_type`` (a class, a name or a dotted name), its ``exception`` event names it."""
        __tracebackhide__ = True
        if self.status != "error":
            self._trace.fail(f"{self} is not in error: its status is {self.status}", [self])
        if exception_type is None:
            return
        wanted = exception_type if isinstance(exception_type, str) else _qualified(exception_type)
        event = self.event("exception")
        if event is None:
            self._trace.fail(f"{self} is in error but records no exception event (wanted {wanted})", [self])
        recorded = str(event.attributes.get("exception.type", ""))
        if not _same_type(recorded, wanted):
            self._trace.fail(f"{self} recorded {recorded or 'an exception with no type'}, not {wanted}", [self])

    def __repr__(self) -> str:
        return f"<{self.kind} span {self.name!r} of {self.service}, {self.status}>"

    __str__ = __repr__


def _qualified(cls: type[BaseException]) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _same_type(recorded: str, wanted: str) -> bool:
    """Whether ``recorded`` names ``wanted``: exactly, or by its last part when either side gives only a name."""
    if recorded == wanted:
        return True
    if "." not in wanted or "." not in recorded:
        return recorded.rsplit(".", 1)[-1] == wanted.rsplit(".", 1)[-1]
    return False


@dataclass(frozen=True)
class Selectors:
    """What a span must be to be found: each given selector must hold."""

    service: str | None = None
    name: str | None = None
    kind: str | None = None
    status: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for what, value, allowed in (("kind", self.kind, KINDS), ("status", self.status, STATUSES)):
            if value is not None and value not in allowed:
                raise ValueError(f"{what}={value!r}: expected one of {', '.join(allowed)}")

    def match(self, span: TraceSpan) -> bool:
        return (
            (self.service is None or span.service == self.service)
            and (self.name is None or span.name == self.name)
            and (self.kind is None or span.kind == self.kind)
            and (self.status is None or span.status == self.status)
            and all(k in span.attributes and span.attributes[k] == v for k, v in self.attributes.items())
        )

    def __str__(self) -> str:
        said = [
            f"{k}={v!r}"
            for k, v in (("service", self.service), ("name", self.name), ("kind", self.kind), ("status", self.status))
            if v
        ]
        said += [f"{k}={v!r}" for k, v in self.attributes.items()]
        return ", ".join(said) or "any span"


class Trace:
    """A trace read back: its spans in order of start, and assertions about it."""

    def __init__(self, trace_id: str, spans: Sequence[Span], context: Context | None = None) -> None:
        self.trace_id = trace_id
        self.context = context or Context()
        self.spans = [TraceSpan(s, self) for s in sorted(spans, key=lambda s: (s.start_ns, s.end_ns))]
        self._by_id = {s.span_id: s for s in self.spans}

    @property
    def roots(self) -> list[TraceSpan]:
        """Spans with no parent; a span whose parent never arrived is not one (see ``waiting``)."""
        return [s for s in self.spans if s.span.parent_id is None]

    @property
    def waiting(self) -> list[TraceSpan]:
        """Spans that name a parent the trace does not hold."""
        return [s for s in self.spans if s.span.parent_id is not None and s.span.parent_id not in self._by_id]

    @property
    def root(self) -> TraceSpan:
        """The one root; a failure showing the trace when there is none, or more than one."""
        __tracebackhide__ = True
        roots = self.roots
        if len(roots) != 1:
            self.fail(f"trace {self.trace_id} has {len(roots)} roots, not one", roots or self.waiting)
        return roots[0]

    def find(self, **selectors: Any) -> list[TraceSpan]:
        """Every span that matches (``service``, ``name``, ``kind``, ``status``, ``attributes={...}``), in order of start."""
        wanted = Selectors(**selectors)
        return [s for s in self.spans if wanted.match(s)]

    def one(self, **selectors: Any) -> TraceSpan:
        """The one span that matches; a failure listing the candidates when none or several do."""
        __tracebackhide__ = True
        wanted = Selectors(**selectors)
        found = [s for s in self.spans if wanted.match(s)]
        if len(found) == 1:
            return found[0]
        if found:
            listed = "\n".join(f"  - {s}" for s in found)
            self.fail(f"{len(found)} spans match {wanted}, not one:\n{listed}", found)
        near = [s for s in self.spans if _near(wanted, s)]
        listed = "\n".join(f"  - {s}" for s in near or self.spans)
        self.fail(f"no span matches {wanted}; {'the nearest' if near else 'the spans'}:\n{listed}", near)

    def assert_connected(self) -> None:
        """One root, no span waiting for its parent, and no break the doctor finds involving this trace."""
        __tracebackhide__ = True
        problems: list[str] = []
        marked: list[TraceSpan] = []
        roots, waiting = self.roots, self.waiting
        if len(roots) != 1:
            problems.append(f"{len(roots)} roots, not one: " + ", ".join(map(str, roots)))
            marked += roots
        if waiting:
            names = plural(len(waiting), "span names", "spans name")
            problems.append(
                f"{names} a parent the trace does not hold (lost on the way, or still on it): " + ", ".join(map(str, waiting))
            )
            marked += waiting
        problems += [said(b, self.trace_id) for b in self.context.breaks(self)]
        if problems:
            self.fail(f"trace {self.trace_id} is not one connected trace:\n- " + "\n- ".join(problems), marked)

    # -- showing it ----------------------------------------------------------------

    def show(self, marked: Sequence[TraceSpan] = ()) -> str:
        """The trace as text, as :func:`traceproof.waterfall.render` draws it (``make trace``'s drawing too):
        its link, the waterfall with ``marked`` spans marked, and its log lines."""
        lines, note = self.context.logs(self.trace_id)
        drawing = render(
            self.trace_id,
            [s.span for s in self.spans],
            self.context.link(self.trace_id),
            lines,
            note,
            marked={s.span_id for s in marked},
        )
        return to_text(drawing)

    def fail(self, message: str, marked: Sequence[TraceSpan] = ()) -> NoReturn:
        """Raise an AssertionError with ``message``, then the trace drawn with ``marked`` marked."""
        __tracebackhide__ = True
        mark_note = "\n(◀ marks the spans in question)" if marked else ""
        raise AssertionError(f"{message}{mark_note}\n\n{self.show(marked)}")

    def __repr__(self) -> str:
        return f"<Trace {self.trace_id}: {len(self.spans)} spans>"


def _near(wanted: Selectors, span: TraceSpan) -> bool:
    """A span that matches every selector but one: what a person most likely meant."""
    given = {k: v for k, v in vars(wanted).items() if v not in (None, {})}
    misses = sum(1 for k in given if not Selectors(**{k: given[k]}).match(span))
    return len(given) > 1 and misses == 1
