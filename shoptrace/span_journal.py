"""Spans that outlive their process: each span's start, end and delivery, journaled where a SIGKILL cannot reach.

Why: a span lives in the process's memory until the span buffer
(shoptrace.span_buffer) has sent it. A real crash (an OOM kill, a segfault,
``kill -9``, a container's memory limit) takes with it every span ended but
not yet sent (up to the batch delay; the whole buffer during a Collector
outage), and the span of the request that killed the process never ends, so
its trace shows the caller's CLIENT span failing and nothing on this side.

What: a ``SpanProcessor``, first on the provider, that writes four kinds of
record to the journal file (shoptrace.journal_file, a shared memory map, so
a record is the kernel's as soon as it is copied):

* START, in ``on_start``, in the request path: what rebuilds the span if it
  never ends (ids, parent and its remote flag, name, kind, start, attributes
  known at start, instrumentation scope; the resource is the file's header);
* END, in ``on_end``: only what the START lacks (the span id that joins them,
  the end, the attributes as they are at the end, events, links, status, the
  resource if it is not the journal's). The attributes travel twice: a span
  may set or change them between its start and its end, and finding which
  would cost more than encoding them again;
* SPAN: a whole ended span in one record, written instead of an END when its
  START is not in the ring (a span that outlived a lap of it, a span started
  before the journal, the spans a start-up carries over from the previous run);
* DELIVERED, from the span buffer, once the OTLP export of a batch succeeded:
  its span ids. "Delivered" is the Collector's answer, nothing earlier; a
  batch under way at a kill (answered, not yet recorded) is sent again at
  the next start: at least once, never lost, rarely twice.

and a heartbeat: every :data:`HEARTBEAT_S` a thread stores the time in the
header. At the next start (shoptrace.journal_startup) the spans ended and not
delivered are sent again (a START and its END, or a SPAN), and those started
and never ended are ended at the last moment the journal knew the process
alive (the latest heartbeat or record), at most one heartbeat period (plus a
busy interpreter's delay) before it died, with status ERROR and
:data:`CUT_SHORT_ATTRIBUTES`.

Encoding: ``marshal`` of a flat tuple of plain values (an int or str subclass,
such as an enum member, as its base type). It is in C, as pickle is, but
builds only values when it reads (pickle can be made to run code, and a
journal is read from a volume); JSON would lose bytes and the int/float
difference; the OTLP protobuf would mean building its messages in Python. The
file's header names the marshal version, so a file from another Python is
refused whole rather than misread.

When the ring is full the oldest records are overwritten: normally spans
long delivered. During an outage longer than the journal's budget, the
oldest undelivered spans' records go first (as the span buffer drops its
oldest): they are still in the buffer, but would not survive a crash; they
are counted and said once. An ended span needs its START and its END, so it
counts as overwritten once its START is. A span still open when the ring
overwrites its START would not be rebuilt if its process died: counted too
(it ends with a SPAN record). Only sampled spans are journaled.
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
from opentelemetry.trace import Link, SpanKind, StatusCode, TraceFlags

from shoptrace.journal_file import JournalFile
from shoptrace.otel_internals import attribute_dict, events_and_links

log = logging.getLogger(__name__)

#: How often the journal stores "alive at": a span cut short ends at most this long before the process died.
HEARTBEAT_S = 0.1

#: The records' first field.
START, END, DELIVERED, SPAN = 0, 1, 2, 3

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
    return (context.trace_id, context.span_id, context.trace_flags & 0xFF, context.is_remote, dict(link.attributes or {}))


def encode_resource(resource: Resource) -> bytes:
    return marshal.dumps(_plain((dict(resource.attributes), resource.schema_url)))


_MARSHALLED = (type(None), bool, int, float, str, bytes)


def _plain(value: Any) -> Any:
    """``value`` with every bool, int, float, str or bytes subclass in it as its base type.

    The SDK keeps an attribute whose value is such a subclass as it was set (an ``IntEnum``, a
    ``StrEnum``, ``HTTPStatus``), and marshal refuses them; anything else is left for marshal to judge.
    """
    if type(value) in _MARSHALLED:
        return value
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, int):  # bool cannot be subclassed: an int subclass here
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str):
        return str.__str__(value)  # the characters, not a subclass's own __str__ (an Enum's "Kind.X")
    return value


def _dumps(record: tuple[Any, ...]) -> bytes | None:
    """``record`` marshalled; None if even its plain form (:func:`_plain`) is refused. Never raises: the journal
    runs in the request path, first of the span processors, and an exception there would lose the span for all."""
    try:
        return marshal.dumps(record)
    except ValueError:
        try:
            return marshal.dumps(_plain(record))
        except ValueError:
            return None


_SAMPLED = TraceFlags.SAMPLED


def _context_fields(span: ReadableSpan) -> tuple[Any, ...]:
    """The fields a START record and a SPAN record begin with, after their kind: who the span is, and when it began.

    Each read once, in the record's order (so :meth:`SpanJournal.on_start` can write them out itself). A flag
    byte is ``flags & 0xFF``: a plain int (marshal refuses an int subclass), at half the cost of ``int(flags)``.
    """
    context = span.context
    parent = span.parent
    state = context.trace_state
    if parent is None:
        return (
            context.trace_id,
            context.span_id,
            context.trace_flags & 0xFF,
            state.to_header() if state else None,
            None,
            False,
            0,
            span.name,
            _KINDS[span.kind],
            span.start_time,
        )
    return (
        context.trace_id,
        context.span_id,
        context.trace_flags & 0xFF,
        state.to_header() if state else None,
        parent.span_id,
        parent.is_remote,
        parent.trace_flags & 0xFF,
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
        #: Span id -> where its START record is (JournalFile.written), for spans started and not yet ended, oldest first.
        self._open: dict[int, int] = {}
        #: Span id -> where the oldest record it needs is (its START, or its SPAN), for spans ended and not yet delivered.
        self._pending: dict[int, int] = {}
        #: No record this journal still needs is below this position: the ring's overwriting is looked at only past it.
        self._next_check = 0
        #: Undelivered spans whose START (or SPAN) record the ring overwrote; open spans whose START it overwrote;
        #: spans too large to journal.
        self.overwritten = 0
        self.open_overwritten = 0
        #: Spans not journaled: a record too large for the ring (a quarter of it at most), or values marshal refuses;
        #: spans whose END went without its attributes, events and links, for the same reasons.
        self.too_large = 0
        self.stripped = 0
        self._said_full = False
        self._scopes: dict[int, tuple[InstrumentationScope | None, tuple[str, str | None, str | None] | None]] = {}
        self._stop = threading.Event()
        self.file.alive(time.time_ns())
        self._heart = threading.Thread(target=self._beat, args=(heartbeat_s,), name="span-journal-heartbeat", daemon=True)
        self._heart.start()

    # -- the SpanProcessor --------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        # In the request path of every span: one flat tuple, each field read once, marshalled out of the lock.
        context = span.context
        if not context.trace_flags & _SAMPLED:
            return
        parent = span.parent
        state = context.trace_state
        scope = span.instrumentation_scope
        scope_fields = self._scopes.get(id(scope))
        if scope_fields is None or scope_fields[0] is not scope:
            scope_fields = self._scope_of(scope)
        span_id = context.span_id
        payload = _dumps(
            (
                START,
                context.trace_id,
                span_id,
                context.trace_flags & 0xFF,
                state.to_header() if state else None,
                None if parent is None else parent.span_id,
                parent is not None and parent.is_remote,
                0 if parent is None else parent.trace_flags & 0xFF,
                span.name,
                _KINDS[span.kind],
                span.start_time,
                attribute_dict(span),
                scope_fields[1],
            )
        )
        if payload is None:  # its end tries a SPAN record, and counts it if that fails too
            return
        with self._lock:
            position = self.file.append(payload)
            if position is not None:  # else its end tries a SPAN record, and counts it if that fails too
                self._open[span_id] = position

    def on_end(self, span: ReadableSpan) -> None:
        if span.context.trace_flags.sampled:
            self.record_end(span)

    def shutdown(self) -> None:
        """Stop the heartbeat. The file stays mapped: the span buffer's last deliveries are still recorded."""
        self._stop.set()
        self._heart.join()
        self.file.alive(time.time_ns())
        with self._lock:
            floor = self.file.written - self.file.data_bytes
            for table in (self._pending, self._open):  # the exact count: the one along the way may lag (see _reclaim)
                gone = [span_id for span_id, position in table.items() if position < floor]
                for span_id in gone:
                    del table[span_id]
                if table is self._pending:
                    self.overwritten += len(gone)
                else:
                    self.open_overwritten += len(gone)
        if self.too_large or self.stripped:
            log.warning(
                "span journal: %d spans not journaled and %d journaled without what they held at their end, for a "
                "record too large for a quarter of its ring of %d bytes or values it could not encode; all were sent "
                "as usual, but would not have survived a crash whole",
                self.too_large,
                self.stripped,
                self.file.data_bytes,
            )
        if self.overwritten or self.open_overwritten:
            log.warning(
                "span journal: %d spans not yet delivered and %d spans still open had their records overwritten in its "
                "ring of %d bytes (oldest first); they would not have survived a crash",
                self.overwritten,
                self.open_overwritten,
                self.file.data_bytes,
            )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every record is in the kernel's page cache as soon as it is written

    # -- what the span buffer and the start-up call ----------------------------------------

    def record_end(self, span: ReadableSpan) -> None:
        """Journal ``span`` as ended, to be sent again at the next start until it is :meth:`delivered`."""
        span_id = span.context.span_id
        resource = span.resource
        status = span.status
        events, links = events_and_links(span)  # most spans have neither: no loop then
        tail = (
            span.name,  # a span may be renamed between its start and its end
            span.end_time,
            attribute_dict(span),
            [(e.name, e.timestamp, attribute_dict(e)) for e in events] if events else (),
            [_link(link) for link in links] if links else (),
            _STATUS_CODES[status.status_code],
            status.description,
            None if resource is self.resource or resource == self.resource else encode_resource(resource),
        )
        payload = _dumps((END, span_id, *tail))  # out of the lock; the rare cases below replace it in it
        with self._lock:
            file = self.file
            start = self._open.pop(span_id, None)
            position = None
            if start is not None:
                position = None if payload is None else file.append(payload)
                if position is None:
                    # Too large, or refused: an END without its attributes, events and links, so that the START
                    # left in the ring is never taken, after a crash, for a span cut short.
                    self.stripped += 1
                    small = _dumps((END, span_id, tail[0], tail[1], {}, (), (), *tail[5:]))
                    position = None if small is None else file.append(small)
                if position is not None and start < file.written - file.data_bytes:
                    start = None  # the START is gone (this very record may have gone over it): the whole span instead
            if start is None:
                whole = _dumps((SPAN, *_context_fields(span), self._scope(span), *tail))
                position = None if whole is None else file.append(whole)
            if position is None:
                self.too_large += 1
                return
            self._pending[span_id] = position if start is None else start
            full = file.written - file.data_bytes > self._next_check and self._reclaim()
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
            cached = self._scope_of(scope)
        return cached[1]

    def _scope_of(
        self, scope: InstrumentationScope | None
    ) -> tuple[InstrumentationScope | None, tuple[str, str | None, str | None] | None]:
        fields = None if scope is None else (scope.name, scope.version, scope.schema_url)
        cached = self._scopes[id(scope)] = (scope, fields)  # the scope kept alive, so its id is not reused
        return cached

    def _reclaim(self) -> bool:
        """Forget (and count) spans whose records the ring has overwritten; True the first time an undelivered one is.

        Under the lock. Each table is looked at from its oldest entry on, up to the first one still in the ring:
        in ``_open`` positions grow along the table, in ``_pending`` nearly (a span's START, in the order spans
        end), so a span started before the one ended before it is counted when it comes first (or at shutdown).
        """
        file = self.file
        floor = file.written - file.data_bytes
        before = self.overwritten
        pending, opened = self._pending, self._open
        while pending:
            span_id, position = next(iter(pending.items()))
            if position >= floor:
                break
            del pending[span_id]
            self.overwritten += 1
        while opened:
            span_id, position = next(iter(opened.items()))
            if position >= floor:
                break
            del opened[span_id]
            self.open_overwritten += 1
        # Below every entry's position, and below anything written from now on (a new START, or a SPAN).
        self._next_check = min(next(iter(pending.values()), file.written), next(iter(opened.values()), file.written))
        if self.overwritten > before and not self._said_full:
            self._said_full = True
            return True
        return False

    def _beat(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.file.alive(time.time_ns())
