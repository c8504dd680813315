"""Getting a whole trace for a test: from a response or an id, waiting on what the test expects, judged by the doctor.

Spans reach a trace store in batches, service by service, so a trace read
too early is a piece of one. :meth:`Traces.get` therefore waits: until the
trace holds the spans the test declares (``spans=3``, or a predicate), else
until it has held still for ``quiet_s``. Declaring is better: it returns as
soon as the trace is there, and when it never is, the failure says what was
expected. Holding still is a guess, sized by default for the SDK's default
batch delay (``OTEL_BSP_SCHEDULE_DELAY``, 5 s) plus a second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traceproof.defaults import QUIET_S, TIMEOUT_S
from traceproof.doctor import BreakKind, diagnose
from traceproof.doctor.findings import Break
from traceproof.errors import SourceError, TraceNotFound
from traceproof.jaeger import JaegerUnreachable, normalize_trace_id
from traceproof.logs import LogLine
from traceproof.sources import TraceSource
from traceproof.trace import Context, Trace
from traceproof.trace import said as said_of
from traceproof.wait import poll, settled

#: How far around a trace the doctor reads, to learn the services' addresses and find the other half of a split.
BEFORE_S, AFTER_S = 60.0, 2.0

Logs = Callable[[str], tuple[list[LogLine] | None, str]]


def trace_id_of(x: Any) -> str:
    """The trace id of a response (its ``traceresponse`` header: httpx, requests, Starlette's TestClient) or of an id."""
    if isinstance(x, str):
        return normalize_trace_id(x)
    headers = getattr(x, "headers", None)
    if headers is None:
        raise TypeError(f"traces.get takes a response or a trace id, not {type(x).__name__}")
    header = headers.get("traceresponse")
    parts = (header or "").split("-")
    if len(parts) != 4:
        status = getattr(x, "status_code", "?")
        raise AssertionError(
            f"the response (HTTP {status}) carries no traceresponse header"
            + (f" (it has {header!r})" if header else "")
            + ": pass the trace id instead, or have the service send the header (OpenTelemetry Python: "
            "set_global_response_propagator(TraceResponsePropagator()) from opentelemetry.instrumentation.propagators)"
        )
    return normalize_trace_id(parts[1])


def breaks_of(source: TraceSource, trace: Trace) -> list[Break]:
    """The doctor's breaks that involve ``trace`` (but not its lost parents: Trace shows those itself)."""
    if not trace.spans:
        return []
    start = min(s.span.start_ns for s in trace.spans)
    end = max(s.span.end_ns for s in trace.spans)
    window = dict(source.window(start - round(BEFORE_S * 1e9), end + round(AFTER_S * 1e9)).traces)
    window[trace.trace_id] = [s.span for s in trace.spans]  # as the test has it, whatever arrived since
    return [
        b
        for group in diagnose(window).breaks
        if group.kind is not BreakKind.LOST_PARENT
        for b in group.breaks
        if trace.trace_id in (b.trace_id, b.split_from)
    ]


class Traces:
    """The ``traces`` fixture: :meth:`get` a trace by response or id, whole."""

    def __init__(
        self,
        source: TraceSource,
        timeout_s: float = TIMEOUT_S,
        quiet_s: float = QUIET_S,
        logs: Logs | None = None,
        interval_s: float = 0.25,
    ) -> None:
        self.source = source
        self.timeout_s = timeout_s
        self.quiet_s = quiet_s
        self.interval_s = interval_s
        self.context = Context(
            link=source.link,
            breaks=lambda trace: breaks_of(source, trace),
            logs=logs or (lambda trace_id: (None, "")),
        )

    def get(
        self,
        x: Any,
        *,
        spans: int | None = None,
        until: Callable[[Trace], bool] | None = None,
        timeout_s: float | None = None,
        quiet_s: float | None = None,
    ) -> Trace:
        """The trace of ``x`` (a response or a trace id) once it holds ``spans`` spans and ``until`` holds.

        With neither given, once no span has arrived for ``quiet_s``. Fails, showing
        what did arrive and what the doctor finds, when that has not happened within
        ``timeout_s``.
        """
        __tracebackhide__ = True
        trace_id = trace_id_of(x)
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        quiet_s = self.quiet_s if quiet_s is None else quiet_s
        declared = spans is not None or until is not None
        quiet = settled(quiet_s)
        latest = Trace(trace_id, [], self.context)
        unreachable: JaegerUnreachable | None = None

        def read() -> Trace:
            nonlocal latest, unreachable
            try:
                latest, unreachable = Trace(trace_id, self.source.trace(trace_id), self.context), None
            except TraceNotFound:
                pass
            except JaegerUnreachable as exc:  # a restart: waited out
                unreachable = exc
            except SourceError as exc:  # anything else a source cannot do is said at once, as the test's failure
                raise AssertionError(f"traceproof: {exc}") from None
            return latest

        def whole(trace: Trace) -> bool:
            if not declared:
                return quiet(trace.spans)
            return bool(trace.spans) and (spans is None or len(trace.spans) >= spans) and (until is None or until(trace))

        trace, done = poll(read, whole, timeout_s, self.interval_s)
        if done:
            return trace
        if not trace.spans:
            why = f": {unreachable}" if unreachable else ""
            raise AssertionError(
                f"{self.source} holds no span of trace {trace_id} after {timeout_s:g} s{why}. "
                "Do the services export there (OTEL_EXPORTER_OTLP_ENDPOINT), and is this the trace id of the request?"
            )
        if declared:
            wanted = ([f"{spans} spans"] if spans is not None else []) + ([_name(until)] if until is not None else [])
            expected = f"did not reach {' and '.join(wanted)}"
        else:
            expected = f"did not hold still for {quiet_s:g} s"
        said = [f"trace {trace_id} {expected} within {timeout_s:g} s: it has {len(trace.spans)} spans"]
        said += [said_of(b, trace_id) for b in self.context.breaks(trace)]
        if trace.waiting:
            said.append("spans still waiting for a parent: " + ", ".join(map(str, trace.waiting)))
        trace.fail("\n- ".join(said), trace.waiting)


def _name(until: Callable[[Trace], bool]) -> str:
    name = getattr(until, "__name__", "")
    return f"{name}()" if name and name != "<lambda>" else "the predicate"
