"""Spans that outlive their process: each span's start, end and delivery, journaled where a SIGKILL cannot reach.

Why: a span lives in the process's memory until the span buffer
(shoptrace.span_buffer) has sent it. A real crash (an OOM kill, a segfault,
``kill -9``, a container's memory limit) takes with it every span ended but
not yet sent (up to the batch delay; the whole buffer during a Collector
outage), and the span of the request that killed the process never ends, so
its trace shows the caller's CLIENT span failing and nothing on this side.

What: a ``SpanProcessor``, first on the provider, that writes three kinds of
record to the journal file (shoptrace.journal_file, a shared memory map, so
a record is the kernel's as soon as it is copied):

* START, in ``on_start``, in the request path: what rebuilds the span if it
  never ends (ids, parent and its remote flag, name, kind, start, attributes
  known at start, instrumentation scope; the resource is the file's header);
* END, in ``on_end``: the whole ended span;
* DELIVERED, from the span buffer, once the OTLP export of a batch succeeded:
  its span ids. "Delivered" is the Collector's answer, nothing earlier; a
  batch under way at a kill (answered, not yet recorded) is sent again at
  the next start: at least once, never lost, rarely twice.

and a heartbeat: every :data:`HEARTBEAT_S` a thread stores the time in the
header. At the next start (shoptrace.journal_startup) the spans ended and not
delivered are sent again, and those started and never ended are ended at the
last moment the journal knew the process alive (the latest heartbeat or
record), at most one heartbeat period (plus a busy interpreter's delay)
before it died, with status ERROR and :data:`CUT_SHORT_ATTRIBUTES`.

Encoding: ``marshal`` of a tuple of plain values. Measured against pickle,
JSON and the OTLP protobuf for a SERVER span (bench/span_cost.py): marshal
and pickle cost the same and JSON four times as much, but marshal builds only
values when it reads (pickle can be made to run code, and a journal is read
from a volume), and the file's header names the marshal version, so a file
from another Python is refused whole rather than misread.

When the ring is full the oldest records are overwritten: normally spans
long delivered. During an outage longer than the journal's budget, the
oldest undelivered spans' records go first (as the span buffer drops its
oldest): they are still in the buffer, but would not survive a crash; they
are counted and said once. Only sampled spans are journaled.
"""

from __future__ import annotations

import logging
import marshal
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanKind, StatusCode

from shoptrace.journal_file import JournalFile
from shoptrace.otel_internals import attribute_dict

log = logging.getLogger(__name__)

#: How often the journal stores "alive at": a span cut short ends at most this long before the process died.
HEARTBEAT_S = 0.1

#: The records' first field.
START, END, DELIVERED = 0, 1, 2

#: What a span cut short by its process's death carries, besides its attributes at start. ``error.type``
#: is the semantic conventions' own (stable, the general registry: "the class of error the operation
#: ended with"); ``process.pid`` too (the process registry, development): the pid of the process that
#: died. No convention names a span ended for its process; the ``shoptrace.`` ones are this kit's.
ERROR_TYPE = "process_died"
CUT_SHORT = "shoptrace.span.cut_short"
CUT_SHORT_ATTRIBUTES = ("error.type", "process.pid", CUT_SHORT)


#: Enum members' values, looked up rather than read through ``.value`` (a descriptor), twice a span.
_KINDS = {kind: kind.value for kind in SpanKind}
_STATUS_CODES = {code: code.value for code in StatusCode}


def _link(link: Link) -> tuple[Any, ...]:
    context = link.context
    return (context.trace_id, context.span_id, int(context.trace_flags), context.is_remote, dict(link.attributes or {}))


def encode_resource(resource: Resource) -> bytes:
    return marshal.dumps((dict(resource.attributes), resource.schema_url))


def _context_fields(span: ReadableSpan) -> tuple[Any, ...]:
    """The fields a START record and an END record share (the END's first ones)."""
    context = span.context
    parent = span.parent
    state = context.trace_state
    return (
        context.trace_id,
        context.span_id,
        int(context.trace_flags),
        state.to_header() if state else None,
        None if parent is None else parent.span_id,
        parent is not None and parent.is_remote,
        0 if parent is None else int(parent.trace_flags),
        span.name,
        _KINDS[span.kind],
        span.start_time,
    )


class SpanJournal(SpanProcessor):
    """Journals every sampled span's start and end, and each delivered batch, to ``file``; keeps its heartbeat."""

    def __init__(self, file: JournalFile, resource: Resource, heartbeat_s: float = HEARTBEAT_S) -> None:
        self.file = file
        self.resource = resource
        self._lock = threading.Lock()
        #: Span id -> where its END record is (JournalFile.written), for spans ended and not yet delivered.
        self._pending: dict[int, int] = {}
        self._oldest_pending = float("inf")
        #: Undelivered spans whose END record the ring overwrote; spans too large to journal.
        self.overwritten = 0
        self.too_large = 0
        self._said_full = False
        self._scopes: dict[int, tuple[InstrumentationScope | None, tuple[str, str | None, str | None] | None]] = {}
        self._stop = threading.Event()
        self.file.alive(time.time_ns())
        self._heart = threading.Thread(target=self._beat, args=(heartbeat_s,), name="span-journal-heartbeat", daemon=True)
        self._heart.start()

    # -- the SpanProcessor --------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if not span.context.trace_flags.sampled:
            return
        payload = marshal.dumps((START, *_context_fields(span), attribute_dict(span), self._scope(span)))
        with self._lock:
            self.file.append(payload)

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self.record_end(span)

    def shutdown(self) -> None:
        """Stop the heartbeat. The file stays mapped: the span buffer's last deliveries are still recorded."""
        self._stop.set()
        self._heart.join()
        self.file.alive(time.time_ns())
        if self.overwritten:
            log.warning(
                "span journal: %d spans not yet delivered were overwritten in its ring of %d bytes (oldest first)",
                self.overwritten,
                self.file.data_bytes,
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every record is in the kernel's page cache as soon as it is written

    # -- what the span buffer and the start-up call ----------------------------------------

    def record_end(self, span: ReadableSpan) -> None:
        """Journal ``span`` as ended, to be sent again at the next start until it is :meth:`delivered`."""
        resource = span.resource
        own = resource is self.resource or resource == self.resource
        status = span.status
        events, links = span.events, span.links  # most spans have neither: no generator then
        payload = marshal.dumps(
            (
                END,
                *_context_fields(span),
                attribute_dict(span),
                self._scope(span),
                span.end_time,
                tuple((e.name, e.timestamp, dict(e.attributes or {})) for e in events) if events else (),
                tuple(_link(link) for link in links) if links else (),
                _STATUS_CODES[status.status_code],
                status.description,
                None if own else encode_resource(resource),
            )
        )
        with self._lock:
            position = self.file.append(payload)
            if position is None:
                self.too_large += 1
                return
            self._pending[span.context.span_id] = position
            if self._oldest_pending == float("inf"):
                self._oldest_pending = position
            full = self._reclaim()
        if full:
            log.warning(
                "span journal full: spans not yet delivered are being overwritten, oldest first (a ring of %d bytes, "
                "SPAN_JOURNAL_MB); they are still in the span buffer, but would not survive a crash. Said once; the "
                "count at shutdown",
                self.file.data_bytes,
            )

    def delivered(self, spans: Sequence[ReadableSpan]) -> None:
        """The Collector took ``spans``: never send them again."""
        ids = tuple(span.context.span_id for span in spans)
        payload = marshal.dumps((DELIVERED, time.time_ns(), ids))
        with self._lock:
            pending = self._pending
            for span_id in ids:
                pending.pop(span_id, None)
            self.file.append(payload)

    # -- inside ----------------------------------------------------------------------------

    def _scope(self, span: ReadableSpan) -> tuple[str, str | None, str | None] | None:
        scope = span.instrumentation_scope
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            fields = None if scope is None else (scope.name, scope.version, scope.schema_url)
            cached = self._scopes[id(scope)] = (scope, fields)  # the scope kept alive, so its id is not reused
        return cached[1]

    def _reclaim(self) -> bool:
        """Forget (and count) undelivered spans whose END record the ring has overwritten; True the first time."""
        floor = self.file.written - self.file.data_bytes
        if floor <= self._oldest_pending:
            return False
        before = self.overwritten
        pending = self._pending
        while pending:
            span_id, position = next(iter(pending.items()))
            if position >= floor:
                self._oldest_pending = position
                break
            del pending[span_id]
            self.overwritten += 1
        else:
            self._oldest_pending = float("inf")
        if self.overwritten > before and not self._said_full:
            self._said_full = True
            return True
        return False

    def _beat(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.file.alive(time.time_ns())
