"""The span buffer (shoptrace.span_buffer): nothing lost while the Collector is away, memory bounded, never a wait.

Its inner exporter here is a fake the test opens and closes: closed, every
export fails (or blocks, as a real one retrying does); open, it keeps what it
is sent (one test tries the real OTLP exporter against a closed port, for
what its failures leave behind). Every wait is on a condition (tests.support.load.wait_until) with a
deadline far beyond what the code needs; no assertion rests on how fast this
machine is.
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
import tracemalloc
import weakref
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from shoptrace.span_buffer import FIRST_BACKOFF_S, MAX_BACKOFF_S, BufferedExporter
from shoptrace.telemetry import span_buffer_spans
from tests.support.load import wait_until

#: A deadline for conditions that hold within a second or two (backoff starts at 0.5 s): each
#: wait_until's and each force_flush's.
WITHIN_S = 30.0


class Collector(SpanExporter):
    """A fake OTLP exporter: while closed each export fails, or blocks until opened when ``blocking``."""

    def __init__(self, blocking: bool = False) -> None:
        self.received: list[str] = []
        self.opened = threading.Event()
        self.blocking = blocking
        self.failures = 0
        self.shut = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.blocking:
            self.opened.wait()
        if not self.opened.is_set():
            self.failures += 1
            return SpanExportResult.FAILURE
        self.received += [s.name for s in spans]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut = True


def spans(names: Sequence[str]) -> list[ReadableSpan]:
    tracer = TracerProvider().get_tracer("test")
    made = []
    for name in names:
        span = tracer.start_span(name)
        span.end()
        made.append(span)
    return made  # type: ignore[return-value]  # the SDK's spans are ReadableSpans


def names(count: int, first: int = 0) -> list[str]:
    return [f"s{i}" for i in range(first, first + count)]


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def buffer(collector: Collector) -> Iterator[BufferedExporter]:
    exporter = BufferedExporter(collector, max_spans=100, batch_size=10)
    yield exporter
    collector.opened.set()
    exporter.shutdown()


def test_every_span_taken_while_the_collector_is_away_is_sent_in_order_once_it_answers(
    buffer: BufferedExporter, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "shoptrace.span_buffer")
    for start in range(0, 60, 20):
        assert buffer.export(spans(names(20, start))) is SpanExportResult.SUCCESS
    wait_until(lambda: collector.failures >= 2, WITHIN_S, "the first batch tried and tried again")
    assert collector.received == []

    collector.opened.set()

    assert buffer.force_flush(round(WITHIN_S * 1000))
    assert collector.received == names(60)
    assert (buffer.sent, buffer.dropped) == (60, 0)
    said = [r.getMessage() for r in caplog.records]
    assert len([m for m in said if m.startswith("span export failed")]) == 1, said
    assert [m for m in said if m.startswith("span export resumed") and m.endswith("no span was lost")], said


def test_past_its_budget_the_buffer_drops_the_oldest_and_says_how_many_once(
    buffer: BufferedExporter, collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "shoptrace.span_buffer")
    for start in range(0, 250, 25):
        buffer.export(spans(names(25, start)))

    collector.opened.set()

    assert buffer.force_flush(round(WITHIN_S * 1000))
    # 250 taken, 100 held: the 150 oldest went, the newest 100 arrived, in order.
    assert collector.received == names(100, 150)
    assert buffer.dropped == 150
    resumed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("span export resumed")]
    assert len(resumed) == 1 and "150 spans were dropped meanwhile (oldest first" in resumed[0], resumed


def test_spans_owed_by_a_previous_run_are_taken_as_the_buffer_has_room_none_dropped(
    buffer: BufferedExporter, collector: Collector
) -> None:
    # More than the buffer holds (100), offered at once while the Collector is away, as a start-up after a long
    # outage and a kill offers what the span journal kept.
    owed = spans(names(350))
    taking = threading.Thread(target=buffer.take_when_room, args=(owed,))
    taking.start()
    wait_until(lambda: collector.failures >= 1, WITHIN_S, "the first batch tried")
    assert taking.is_alive()  # waiting for room, not dropping what the buffer holds

    collector.opened.set()

    taking.join(WITHIN_S)
    assert buffer.force_flush(round(WITHIN_S * 1000))
    assert collector.received == names(350)
    assert buffer.dropped == 0


class FailsOnceWhenReleased(Collector):
    """Its first export waits for ``release``, then fails (the batch goes back to the buffer); the rest succeed."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.opened.set()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.release.is_set() or self.failures == 0:
            self.release.wait()
            if self.failures == 0:
                self.failures += 1
                return SpanExportResult.FAILURE
        return super().export(spans)


def test_owed_spans_wait_for_a_batch_in_flight_too_none_of_it_dropped() -> None:
    # Room for two batches less one span: the batch in flight and an owed batch taken beside it would be over,
    # and the span trimmed for them lost when the batch in flight fails.
    collector = FailsOnceWhenReleased()
    buffer = BufferedExporter(collector, max_spans=19, batch_size=10)
    try:
        buffer.export(spans(names(10)))
        wait_until(lambda: buffer._in_flight == 10, WITHIN_S, "the first batch in flight")
        taking = threading.Thread(target=buffer.take_when_room, args=(spans(names(10, 10)),))
        taking.start()
        # Taken at once (and a span of the batch in flight doomed), or waiting on the buffer's condition.
        wait_until(lambda: not taking.is_alive() or bool(buffer._cond._waiters), WITHIN_S, "the owed batch taken or waiting")  # type: ignore[attr-defined]
        collector.release.set()
        taking.join(WITHIN_S)
        assert buffer.force_flush(round(WITHIN_S * 1000))
        assert (collector.received, buffer.dropped) == (names(20), 0)
    finally:
        collector.release.set()
        buffer.shutdown()


def test_export_never_waits_for_the_collector(collector: Collector) -> None:
    collector.blocking = True  # an export that hangs, as one retrying for its timeout does
    buffer = BufferedExporter(collector, max_spans=100, batch_size=10)
    for start in range(0, 50, 10):
        # Each returns while the sender is stuck in the collector: had it waited, this would hang.
        assert buffer.export(spans(names(10, start))) is SpanExportResult.SUCCESS
    assert not collector.opened.is_set()
    collector.opened.set()
    assert buffer.force_flush(round(WITHIN_S * 1000))
    assert collector.received == names(50)
    buffer.shutdown()


def test_a_failed_batch_waits_out_its_backoff_while_new_batches_keep_coming(collector: Collector) -> None:
    """New spans wake the sender, but a failed batch is tried again only after its whole backoff."""
    buffer = BufferedExporter(collector, max_spans=100_000, batch_size=10)
    buffer.export(spans(names(10)))
    wait_until(lambda: collector.failures >= 1, WITHIN_S, "the first try")
    started, first_failures = time.monotonic(), collector.failures
    # Batches keep coming, as a BatchSpanProcessor's do. The pause only spreads them out; no
    # bound rests on it: however long the loop takes, the bound below is computed from that time.
    for start in range(10, 2010, 10):
        buffer.export(spans(names(10, start)))
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    # At most one try per backoff that fits in the time taken (a slower machine only allows more):
    # the first failure's backoff ran from before `started`, hence the one extra try allowed.
    backoffs, allowed = FIRST_BACKOFF_S, 1
    while backoffs <= elapsed:
        allowed += 1
        backoffs += min(FIRST_BACKOFF_S * 2 ** (allowed - 1), MAX_BACKOFF_S)
    assert collector.failures - first_failures <= allowed, (collector.failures - first_failures, allowed, elapsed)
    collector.opened.set()
    buffer.shutdown()


def test_shutdown_is_bounded_with_the_collector_gone_and_says_what_it_could_not_send(
    collector: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    collector.blocking = True
    buffer = BufferedExporter(collector, max_spans=100, batch_size=10, shutdown_timeout_s=0.2)
    buffer.export(spans(names(30)))
    wait_until(lambda: buffer._in_flight == 10, WITHIN_S, "the first batch in the collector's hands")

    buffer.shutdown()  # returns though the collector never answers: the test would hang otherwise

    assert not collector.opened.is_set() and collector.shut
    assert buffer.dropped == 30
    (said,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert said.startswith("shutting down with the Collector unreachable: 30 spans not sent"), said
    assert buffer.export(spans(["late"])) is SpanExportResult.FAILURE
    collector.opened.set()


def test_under_the_batch_processor_a_request_s_spans_wait_for_nothing(collector: Collector) -> None:
    """The SDK's BatchSpanProcessor over the buffer: ending spans never blocks while the collector hangs."""
    collector.blocking = True
    provider = TracerProvider()
    buffer = BufferedExporter(collector, max_spans=10_000)
    provider.add_span_processor(BatchSpanProcessor(buffer, schedule_delay_millis=10, max_export_batch_size=50))
    tracer = provider.get_tracer("test")
    for name in names(500):
        tracer.start_span(name).end()
    wait_until(lambda: len(buffer._spans) + buffer._in_flight == 500, WITHIN_S, "every span in the buffer")
    collector.opened.set()
    provider.shutdown()
    assert sorted(collector.received) == sorted(names(500))


def test_the_budget_is_a_setting_in_megabytes() -> None:
    assert span_buffer_spans(None) == span_buffer_spans("") == 8192  # the default 32 MB at 4 KB a span
    assert span_buffer_spans("1") == 256
    with pytest.raises(ValueError, match="SPAN_BUFFER_MB='lots' is not a number"):
        span_buffer_spans("lots")
    with pytest.raises(ValueError, match="holds no span"):
        span_buffer_spans("0.001")


def test_what_the_buffer_holds_does_not_grow_with_the_spans_it_drops() -> None:
    """Python's own count of live memory (tracemalloc), not the process's: the allocator may keep freed pages."""
    collector = Collector()  # never opened: every span past the budget is dropped
    buffer = BufferedExporter(collector, max_spans=512, batch_size=50)
    tracer = TracerProvider().get_tracer("test")

    def make(count: int) -> None:
        for start in range(0, count, 50):
            batch = []
            for i in range(50):
                span = tracer.start_span("GET /stock/{sku}", attributes={"url.path": f"/stock/item-{start + i}"})
                span.end()
                batch.append(span)
            buffer.export(batch)  # type: ignore[arg-type]  # the SDK's spans are ReadableSpans

    tracemalloc.start()
    try:
        make(5_000)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        make(40_000)
        gc.collect()
        held_after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert buffer.dropped >= 45_000 - 512 - 50
    # 40,000 more spans went through and were dropped; what is held grew by less than 100 of them would
    # take (each is a few KB): the buffer holds its budget, not what it dropped.
    assert held_after - held < 100 * 3000, (held, held_after)
    collector.opened.set()
    buffer.shutdown()


class CountedTries(SpanExporter):
    """The real OTLP/HTTP exporter, counting its tries."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.tries = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self.inner.export(spans)
        finally:
            self.tries += 1

    def shutdown(self) -> None:
        self.inner.shutdown()


def test_a_batch_dropped_after_a_failed_try_of_the_real_exporter_is_freed_at_once() -> None:
    """The OTLP exporter's failed try leaves a reference cycle holding its batch; the buffer frees it, not the GC's mood.

    Python's automatic collection is off here, so a span still held by such a
    cycle stays alive for the whole test: the dropped spans die only because the
    buffer hands the exporter a list of its own and empties it when the call
    returns (shoptrace.otel_internals.export_and_let_go).
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # Nothing listens on the port: each try is refused at once, and gives up within the timeout (1 s).
    otlp = CountedTries(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{closed_port()}/v1/traces", timeout=1))
    buffer = BufferedExporter(otlp, max_spans=10, batch_size=10)
    # The exporter's retry warnings carry the exception as an argument, so a handler that keeps
    # log records (pytest's own capture does, for the report) keeps the batch through its
    # traceback: the handler's doing, not the buffer's. Its errors carry no exception.
    exporter_log = logging.getLogger("opentelemetry.exporter.otlp")
    exporter_level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    gc.disable()
    try:
        first = [weakref.ref(span) for span in _export(buffer, names(10))]
        wait_until(lambda: otlp.tries >= 1, WITHIN_S, "the first batch tried")
        tried = otlp.tries
        _export(buffer, names(10, 10))  # over the budget: the first ten are dropped
        # One more try has failed since, so the first ten were dropped from the buffer's hands
        # (held or in flight): nothing of this process holds them but the failed tries' garbage.
        wait_until(lambda: otlp.tries >= tried + 2, WITHIN_S, "two more tries")
        assert buffer.dropped == 10
        assert [ref() for ref in first] == [None] * 10, "a dropped span is still alive"
    finally:
        gc.enable()
        exporter_log.setLevel(exporter_level)
        buffer.shutdown_timeout_s = 0.1
        buffer.shutdown()


def closed_port() -> int:
    """A local port nothing listens on (the system's pick, closed again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _export(buffer: BufferedExporter, span_names: list[str]) -> list[ReadableSpan]:
    batch = spans(span_names)
    buffer.export(batch)
    return batch
