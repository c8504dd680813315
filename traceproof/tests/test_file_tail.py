"""The watcher's reader of the Collector's file: each byte parsed once, rotations followed, bad lines skipped, memory bounded.

Real files in ``tmp_path``, written, appended, renamed and truncated by the
test between two reads; the clock is the test's. Nothing sleeps.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

import pytest

from builder import Window, ns
from fake_jaeger import otlp_json
from traceproof.errors import SourceError, TraceNotFound
from traceproof.file_tail import OtlpFileTail
from traceproof.sources import OtlpFileSource
from traceproof.spans import Span
from traceproof.watch import Settings, Watcher
from traceproof.watch_metrics import WatchMetrics

HOUR_S = 3600.0


def lines(spans: Iterable[Span]) -> bytes:
    """The spans as the file exporter writes them: one TracesData a line."""
    return b"".join(json.dumps(otlp_json([span])["result"]).encode() + b"\n" for span in spans)


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def tail(path: Path, now_ms: float = 0, retention_s: float = HOUR_S, max_spans: int = 1000, chunk: int = 1 << 20) -> OtlpFileTail:
    return OtlpFileTail(path, retention_s, max_spans, now_ns=lambda: ns(now_ms), chunk=chunk)


def span_ids(source: OtlpFileTail, start_ms: float = -1000, end_ms: float = 1_000_000) -> list[str]:
    """Every span id the window holds, repeats kept (a span read twice shows twice)."""
    return sorted(s.span_id for spans in source.window(ns(start_ms), ns(end_ms)).traces.values() for s in spans)


def test_what_is_appended_is_read_once_and_only_that(tmp_path: Path) -> None:
    w = Window()
    w.order(0)
    w.order(1000)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(lines(w.spans[:4]))
    source = tail(path, chunk=64)  # a chunk shorter than a line: lines read across chunks
    assert span_ids(source) == sorted(s.span_id for s in w.spans[:4])
    assert (source.lines_parsed, source.bytes_read) == (4, path.stat().st_size)

    append(path, lines(w.spans[4:]))
    assert span_ids(source) == sorted(s.span_id for s in w.spans)
    assert (source.lines_parsed, source.bytes_read) == (len(w.spans), path.stat().st_size)
    assert span_ids(source) == sorted(s.span_id for s in w.spans)  # nothing new: nothing parsed again
    assert source.lines_parsed == len(w.spans)
    assert len(source.trace(w.spans[0].trace_id)) == 3


def test_a_line_being_written_is_read_once_it_is_whole(tmp_path: Path) -> None:
    w = Window()
    w.order(0)
    data = lines(w.spans)
    last = lines(w.spans[-1:])
    path = tmp_path / "traces.jsonl"
    path.write_bytes(data[: -len(last) // 2])  # the exporter is in the middle of the last line
    source = tail(path)
    assert span_ids(source) == sorted(s.span_id for s in w.spans[:-1])
    assert source.bytes_read == len(data) - len(last)

    append(path, data[-len(last) // 2 :])
    assert span_ids(source) == sorted(s.span_id for s in w.spans)
    assert (source.lines_parsed, source.lines_skipped, source.bytes_read) == (len(w.spans), 0, len(data))


def test_a_rotation_by_rename_is_followed_without_reading_anything_twice(tmp_path: Path) -> None:
    w = Window()
    for i in range(3):
        w.order(i * 1000)
    spans = w.spans
    current = tmp_path / "traces.jsonl"
    current.write_bytes(lines(spans[:3]))
    source = tail(tmp_path)
    assert span_ids(source) == sorted(s.span_id for s in spans[:3])

    append(current, lines(spans[3:5]))  # written before the rotation, read after it
    current.rename(tmp_path / "traces-2026-12-06T10-00-00.000.jsonl")
    current.write_bytes(lines(spans[5:]))
    assert span_ids(source) == sorted(s.span_id for s in spans)
    assert source.lines_parsed == len(spans)
    assert source.bytes_read == sum(p.stat().st_size for p in tmp_path.iterdir())

    (tmp_path / "traces-2026-12-06T10-00-00.000.jsonl").unlink()  # lumberjack lets the oldest go: its spans stay held
    assert span_ids(source) == sorted(s.span_id for s in spans)


def test_a_truncated_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    w = Window()
    w.order(0)
    later = w.order(5000)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(lines(w.spans[:3]))
    source = tail(path)
    inode = path.stat().st_ino
    span_ids(source)

    path.write_bytes(lines(w.spans[3:4]))  # truncated (same inode, shorter than what was read), then written anew
    assert path.stat().st_ino == inode
    assert span_ids(source) == sorted(s.span_id for s in w.spans[:4])
    append(path, lines(w.spans[4:]))
    assert span_ids(source) == sorted(s.span_id for s in w.spans)
    assert len(source.trace(later.trace_id)) == 3


def test_a_bad_line_is_skipped_counted_and_logged_once_and_the_lines_after_it_are_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = Window()
    w.order(0)
    one = [lines([s]) for s in w.spans]
    path = tmp_path / "traces.jsonl"
    # The Collector killed in the middle of a line, then restarted: it appends after the half line.
    path.write_bytes(one[0] + one[1][:40] + one[1] + b"not json at all\n" + b'{"resourceMetrics": []}\n')
    source = tail(path)
    with caplog.at_level(logging.WARNING, logger="traceproof.file_tail"):
        assert span_ids(source) == sorted(s.span_id for s in w.spans[:1])
        append(path, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "x"}]}]}]}\n' + b"".join(one[2:]))
        assert span_ids(source) == sorted(s.span_id for s in w.spans if s is not w.spans[1])
    assert source.lines_skipped == 4
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "traces.jsonl line 2 is not OTLP JSON" in warnings[0]


def test_traces_ended_longer_ago_than_the_retention_are_let_go_and_not_counted_as_dropped(tmp_path: Path) -> None:
    w = Window()
    old = w.order(0)  # ends at 100 ms
    kept = w.order(50_000)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(lines(w.spans))
    now = [ns(50_000)]
    source = OtlpFileTail(path, 60, now_ns=lambda: now[0])
    assert set(source.window(ns(0), ns(60_000)).traces) == {old.trace_id, kept.trace_id}

    now[0] = ns(60_100) + 1  # old's latest end is now more than 60 s ago
    assert set(source.window(ns(0), ns(60_000)).traces) == {kept.trace_id}
    assert (source.span_count, source.spans_dropped) == (3, 0)
    with pytest.raises(TraceNotFound):
        source.trace(old.trace_id)

    late_child = w.span("checkout", "internal", "late work", 61_000, 61_050, parent=old)
    append(path, lines([late_child]))  # a span of a trace let go comes: held, but alone
    assert [s.span_id for s in source.trace(old.trace_id)] == [late_child.span_id]

    early = w.span("checkout", "internal", "early work", 1, 2, parent=kept)  # ended before the retention, its trace held
    forgotten = w.span("checkout", "internal", "old work", 1, 2)  # the same, its trace never held: not even parsed
    append(path, lines([early, forgotten]))
    assert early.span_id in {s.span_id for s in source.trace(kept.trace_id)}
    with pytest.raises(TraceNotFound):
        source.trace(forgotten.trace_id)
    assert source.span_count == 5


def test_beyond_max_spans_the_traces_that_ended_first_are_dropped_and_counted(tmp_path: Path) -> None:
    w = Window()
    orders = [w.order(i * 1000) for i in range(5)]  # 3 spans each
    path = tmp_path / "traces.jsonl"
    path.write_bytes(lines(w.spans))
    source = tail(path, max_spans=7)
    assert set(source.window(ns(0), ns(10_000)).traces) == {o.trace_id for o in orders[3:]}
    assert (source.span_count, source.spans_dropped) == (6, 9)


def test_the_tail_answers_the_same_window_as_reading_the_whole_files(tmp_path: Path) -> None:
    w = Window()
    w.order(0)
    w.order(1000, stock_call="not_propagated")
    w.order(2000, stock_call="no_client_span")
    w.order(59_950)  # straddles the window's end
    w.order(90_000)
    data = lines(w.spans)
    cut = data.index(b"\n", len(data) // 2) + 1
    (tmp_path / "traces-2026-12-06T10-00-00.000.jsonl").write_bytes(data[:cut])
    (tmp_path / "traces.jsonl").write_bytes(data[cut:])
    whole, tailed = OtlpFileSource(tmp_path), tail(tmp_path)
    for start_ms, end_ms, services in ((0, 60_000, None), (1005, 59_960, None), (0, 100_000, ["inventory"]), (5, 20, ["x"])):
        assert tailed.window(ns(start_ms), ns(end_ms), services) == whole.window(ns(start_ms), ns(end_ms), services)


def test_a_missing_path_is_a_source_error_the_watcher_asks_again_after(tmp_path: Path) -> None:
    source = tail(tmp_path / "missing")
    with pytest.raises(SourceError, match="neither a file nor a folder"):
        source.window(ns(0), ns(1000))


def test_the_watcher_counts_what_the_tail_dropped_and_skipped(tmp_path: Path) -> None:
    w = Window()
    for i in range(3):
        w.order(i * 1000)
    path = tmp_path / "traces.jsonl"
    path.write_bytes(b"not json\n" + lines(w.spans))
    settings = Settings(every_s=10, settle_s=30, late_after_s=60, context_s=10)
    clock = [ns(0) + 30 * 10**9]
    metrics = WatchMetrics()
    source = OtlpFileTail(path, settings.retention_s, max_spans=5, now_ns=lambda: clock[0])
    watcher = Watcher(source, metrics, settings, lambda: clock[0])
    clock[0] += 10 * 10**9
    watcher.tick()
    assert settings.retention_s == 30 + 60 + 10 + 60 + 10
    assert metrics.registry.get_sample_value("traceproof_lines_skipped_total") == 1
    assert metrics.registry.get_sample_value("traceproof_spans_dropped_total") == 6
    append(path, b"{}\n")
    clock[0] += 10 * 10**9
    watcher.tick()
    assert metrics.registry.get_sample_value("traceproof_lines_skipped_total") == 2
