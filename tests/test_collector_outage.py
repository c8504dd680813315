"""A real service while its Collector is away: it answers at once, keeps its spans, sends them when the Collector is back.

inventory runs as a process exporting to a port where nothing listens yet,
with a span buffer (SPAN_BUFFER_MB) that holds 24 spans; each stock read makes
two (its SERVER span and its SELECT). Then an OTLP receiver starts on that
port. Spans past the budget are dropped oldest first, counted and said once.
"""

from __future__ import annotations

import httpx

from tests.conftest import Spawn
from tests.support.load import wait_until
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import free_port

#: 0.09375 MB at 4 KB a span: 24 spans.
BUDGET_MB, BUDGET_SPANS = "0.09375", 24
READS = 40
#: Each stock read makes two spans: its SERVER span and its SELECT.
SPANS = 2 * READS
#: The exporter's own retries within one try of a batch (OTEL_EXPORTER_OTLP_TIMEOUT, seconds).
EXPORT_TIMEOUT_S = "2"
#: A deadline for spans to arrive once the receiver is up: the rest of one export try (2 s) and
#: the buffer's backoff (at most 5 s) need well under this. The two waits below share it.
WITHIN_S = 60.0


def test_spans_made_while_the_collector_is_away_arrive_when_it_is_back_newest_kept_past_the_budget(spawn: Spawn) -> None:
    port = free_port()
    inventory = spawn(
        "inventory",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
        OTEL_EXPORTER_OTLP_TIMEOUT=EXPORT_TIMEOUT_S,
        SPAN_BUFFER_MB=BUDGET_MB,
    )
    trace_ids = []
    for _ in range(READS):
        response = httpx.get(f"{inventory.url}/stock/item-123", timeout=10)
        assert response.status_code == 200  # answered with nowhere to send its spans
        trace_ids.append(response.headers["traceresponse"].split("-")[1])

    def said_resumed() -> list[str]:
        return [line["message"] for line in inventory.logs() if line["message"].startswith("span export resumed")]

    sink = OtlpSink(http_port=port).start()
    try:
        try:  # wait_until's message is fixed: say what had arrived and inventory's last lines
            waited = wait_until(lambda: bool(said_resumed()), WITHIN_S, "inventory's 'span export resumed'")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {len(sink.store.all())} spans arrived; {inventory.logs()[-5:]}") from None
        (resumed,) = said_resumed()
        assert "spans were dropped meanwhile (oldest first" in resumed, resumed
        dropped = int(resumed.split("; ")[1].split(" ")[0])
        # Nothing lost unsaid: every span arrived or was counted dropped (within what is left of WITHIN_S).
        wait_until(
            lambda: len(sink.store.all()) + dropped >= SPANS,
            WITHIN_S - waited,
            f"every one of the {SPANS} spans arrived or among the {dropped} dropped",
        )
        arrived = sink.store.all()
        assert len(arrived) + dropped == SPANS
        # The buffer held its budget and at most the batch it was sending; the newest spans were kept.
        assert BUDGET_SPANS <= len(arrived) <= 2 * BUDGET_SPANS
        newest = trace_ids[-BUDGET_SPANS // 2 :]
        assert sorted(s.trace_id for s in arrived if s.trace_id in newest) == sorted(newest * 2)
    finally:
        sink.stop()
