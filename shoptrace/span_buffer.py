"""A SpanExporter that keeps spans while the Collector is away and sends them when it answers, within a memory budget.

Why: the OTLP exporter (opentelemetry-exporter-otlp 1.45) retries a batch
for its timeout (``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s; honouring
``Retry-After``) and then drops it, and while it retries the
BatchSpanProcessor's worker waits, so its queue fills and drops too, with a
warning per span. Stop the Collector for 30 s under load and a third of the
spans made meanwhile are gone: the ones around an incident, which are the
ones a person looks for.

This exporter sits between the BatchSpanProcessor and the OTLP exporter,
with public interfaces only (a ``SpanExporter`` around a ``SpanExporter``).
It takes each batch at once, so the processor's worker and queue never wait
and no request ever waits for tracing, and holds the spans in a buffer of
its own. A sender thread exports them oldest first; a batch that fails is
tried again, with backoff, until the Collector answers. Only when the buffer
holds its budget are spans dropped, the oldest first (the newest say most
about what is happening now), counted, and said in the log once per outage,
with the number, when sending resumes or at shutdown. Shutdown stays
bounded: what cannot be sent by its deadline is counted and said.

A stricter memory budget is ``SPAN_BUFFER_MB`` (docs/reliability.md gives
what a span costs and how long a budget lasts under load).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from shoptrace.otel_internals import export_and_let_go

log = logging.getLogger(__name__)

#: Backoff between tries of a failed batch: from this, doubling, up to MAX_BACKOFF_S.
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 5.0
#: Spans per export: the BatchSpanProcessor's default batch.
BATCH_SIZE = 512


class BufferedExporter(SpanExporter):
    """Holds up to ``max_spans`` spans for ``inner`` and sends them, oldest first, until it takes them."""

    def __init__(
        self,
        inner: SpanExporter,
        max_spans: int,
        batch_size: int = BATCH_SIZE,
        shutdown_timeout_s: float = 3.0,
        on_delivered: Callable[[Sequence[ReadableSpan]], None] | None = None,
    ) -> None:
        if max_spans < 1:
            raise ValueError(f"the span buffer must hold at least one span, not {max_spans}")
        self.inner = inner
        self.max_spans = max_spans
        self.batch_size = min(batch_size, max_spans)
        self.shutdown_timeout_s = shutdown_timeout_s
        #: Told each batch ``inner`` took, on the sender thread, before the next is tried (the span journal's "delivered").
        self.on_delivered = on_delivered
        self._spans: collections.deque[ReadableSpan] = collections.deque()
        self._in_flight = 0
        #: Spans of the batch in flight that were dropped to keep the budget (the oldest held).
        self._doomed = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._deadline = float("inf")
        #: Spans dropped since the outage began (said once, when it ends), and in all.
        self._dropped_now = 0
        self.dropped = 0
        self.sent = 0
        #: When the current outage began (a try failed, or the buffer filled), and whether it was said.
        self._failing_since: float | None = None
        self._warned = False
        self._sender = threading.Thread(target=self._send_forever, name="span-buffer-sender", daemon=True)
        self._sender.start()

    # -- what the BatchSpanProcessor calls ---------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Take the batch into the buffer at once; the oldest spans go if it is over its budget."""
        with self._cond:
            if self._stopping:
                return SpanExportResult.FAILURE
            self._spans.extend(spans)
            self._trim()
            self._cond.notify_all()
        return SpanExportResult.SUCCESS

    def take_when_room(self, spans: Sequence[ReadableSpan]) -> bool:
        """Take ``spans`` a batch at a time, each once the buffer has room for it: nothing it holds is dropped for them.

        For what a previous run owed (shoptrace.journal_startup), more at once than the buffer may hold; it blocks
        while the buffer is full, so it runs on a thread of its own. False if the exporter shut down first.
        """
        for first in range(0, len(spans), self.batch_size):
            batch = spans[first : first + self.batch_size]
            with self._cond:
                # Waits while what is held and in flight leaves no room; never for nothing (the sender then idles).
                while (
                    not self._stopping
                    and (self._spans or self._in_flight)
                    and len(self._spans) + self._in_flight + len(batch) > self.max_spans
                ):
                    self._cond.wait()
                if self._stopping:
                    return False
                self._spans.extend(batch)
                self._trim()
                self._cond.notify_all()
        return True

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Whether everything taken so far was sent within ``timeout_millis``."""
        deadline = time.monotonic() + timeout_millis / 1000
        with self._cond:
            while self._spans or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """Send what is left within the shutdown deadline, then count and say what could not be sent."""
        timeout_s = self.shutdown_timeout_s if timeout_millis is None else min(self.shutdown_timeout_s, timeout_millis / 1000)
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._deadline = time.monotonic() + timeout_s
            self._cond.notify_all()
        self._sender.join(timeout_s)
        with self._cond:
            unsent = len(self._spans) + self._in_flight
            self._spans.clear()
            if unsent or self._dropped_now:
                log.warning(
                    "shutting down with the Collector unreachable: %d spans not sent, %d dropped before (oldest first, "
                    "the span buffer of %d spans was full)%s",
                    unsent,
                    self._dropped_now,
                    self.max_spans,
                    "; the span journal keeps what its ring still holds of them for the next start"
                    if self.on_delivered is not None
                    else "",
                )
            self.dropped += unsent
        self.inner.shutdown()

    # -- the sender ---------------------------------------------------------------------

    def _trim(self) -> None:
        """Drop the oldest spans while more than ``max_spans`` are held, those of the batch in flight first.

        A span of the batch in flight is only marked (it is the exporter's now):
        if the batch fails, the marked spans are dropped from it; if it gets
        through, they were not lost after all, and are counted back.
        """
        while len(self._spans) + self._in_flight - self._doomed > self.max_spans:
            if self._doomed < self._in_flight:
                self._doomed += 1
            else:
                self._spans.popleft()
            self._dropped_now += 1
            self.dropped += 1
            if self._failing_since is None:  # behind before a try has even failed: the outage began
                self._failing_since = time.monotonic()

    def _send_forever(self) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            with self._cond:
                while not self._spans and not self._stopping:
                    self._cond.wait()
                if not self._spans or time.monotonic() >= self._deadline:
                    return
                batch = [self._spans.popleft() for _ in range(min(self.batch_size, len(self._spans)))]
                self._in_flight = len(batch)
            try:
                # Not inner.export(batch): a failed OTLP try keeps what it was given alive in a
                # reference cycle, and a dropped span must not outlive the drop (shoptrace.otel_internals).
                result = export_and_let_go(self.inner, batch)
            except Exception:  # an exporter that raises is one that failed; the batch is kept
                log.exception("span export raised; the batch is kept and tried again")
                result = SpanExportResult.FAILURE
            if result is SpanExportResult.SUCCESS and self.on_delivered is not None:
                self._tell_delivered(batch)
            with self._cond:
                doomed, self._doomed, self._in_flight = self._doomed, 0, 0
                if result is SpanExportResult.SUCCESS:
                    self.sent += len(batch)
                    self.dropped -= doomed
                    self._dropped_now -= doomed
                    self._resumed()
                    backoff = FIRST_BACKOFF_S
                    self._cond.notify_all()
                    continue
                self._failed(len(batch))
                self._spans.extendleft(reversed(batch[doomed:]))  # back at the head: still the oldest
                self._cond.notify_all()
                # The whole backoff, though new batches keep arriving (each wakes the condition):
                # only a shutdown cuts it short, and its deadline then ends the tries.
                retry_at = time.monotonic() + backoff
                while not self._stopping and (remaining := retry_at - time.monotonic()) > 0:
                    self._cond.wait(remaining)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _tell_delivered(self, batch: Sequence[ReadableSpan]) -> None:
        """Before the batch counts as sent: a flush that returns has every delivery recorded."""
        assert self.on_delivered is not None
        try:
            self.on_delivered(batch)
        except Exception:  # the journal's trouble must not stop the sending
            log.exception("recording a delivered batch failed; its spans may be sent again after a crash")

    def _failed(self, count: int) -> None:
        if not self._warned:
            self._warned = True
            self._failing_since = self._failing_since or time.monotonic()
            log.warning(
                "span export failed (%d spans); keeping spans and trying again until the Collector answers "
                "(up to %d spans in the buffer, then the oldest are dropped)",
                count,
                self.max_spans,
            )

    def _resumed(self) -> None:
        if self._failing_since is None:
            return
        outage_s = time.monotonic() - self._failing_since
        if self._dropped_now:
            log.warning(
                "span export resumed after %.1f s; %d spans were dropped meanwhile (oldest first: the span buffer of "
                "%d spans was full)",
                outage_s,
                self._dropped_now,
                self.max_spans,
            )
        else:
            log.info("span export resumed after %.1f s; no span was lost", outage_s)
        self._failing_since = None
        self._warned = False
        self._dropped_now = 0
