"""The watch bench's replay: only whole traces kept, each copy and pass with trace ids of its own, times shifted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.replay import Replay, sample
from traceproof.sources import OtlpFileSource

S = 1_000_000_000
START = 1_000 * S


def span(trace: str, span_id: str, parent: str | None, start_s: float, end_s: float) -> dict[str, Any]:
    found: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": f"op-{span_id}",
        "kind": 2,
        "startTimeUnixNano": str(START + round(start_s * S)),
        "endTimeUnixNano": str(START + round(end_s * S)),
        "events": [{"timeUnixNano": str(START + round(start_s * S)), "name": "e"}],
    }
    if parent:
        found["parentSpanId"] = parent
    return found


def line(service: str, *spans: dict[str, Any]) -> str:
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]}
    return json.dumps({"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": {}, "spans": list(spans)}]}]})


WHOLE = "a" * 32
PIECE = "b" * 32  # its parent is not in the sample: judged, it would be a break
LATE = "c" * 32  # its root started after the sample's end


def collector_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "traces.jsonl").write_text(
        "\n".join(
            [
                line("checkout", span(WHOLE, "1" * 16, None, 1.0, 1.5), span(PIECE, "3" * 16, "9" * 16, 1.1, 1.2)),
                line("inventory", span(WHOLE, "2" * 16, "1" * 16, 1.1, 1.4), span(LATE, "4" * 16, None, 9.0, 9.1)),
            ]
        )
        + "\n"
    )
    return folder


def test_the_sample_keeps_the_whole_traces_of_its_time_alone(tmp_path: Path) -> None:
    smp = sample(collector_folder(tmp_path), START, START + 5 * S)
    assert (smp.trace_ids, smp.spans, len(smp.templates)) == (1, 2, 2)
    assert [t.at_ns for t in smp.templates] == [round(1.4 * S), round(1.5 * S)]  # when each line's last span ended


def test_each_copy_and_pass_has_trace_ids_of_its_own_and_times_shifted_by_the_pass(tmp_path: Path) -> None:
    smp = sample(collector_folder(tmp_path), START, START + 5 * S)
    out = tmp_path / "replay.jsonl"
    begin = 50_000 * S
    replay = Replay(smp, copies=3, path=out, begin_ns=begin, seed=1)
    replay.write_until(begin + 2 * smp.duration_ns + 2 * S)  # three passes' lines are due by then
    assert (replay.lines, replay.spans) == (3 * 2 * 3, 3 * 2 * 3)

    traces = OtlpFileSource(out).window(0, 2**63 - 1).traces
    assert len(traces) == 9  # 3 passes x 3 copies, every id new
    for spans in traces.values():
        root, child = sorted(spans, key=lambda s: s.start_ns)
        assert (root.service, child.service, child.parent_id) == ("checkout", "inventory", root.span_id)
        passes = (root.start_ns - begin - 1 * S) / smp.duration_ns
        assert passes in (0, 1, 2)  # the sample's times, each pass one duration later
        assert child.start_ns - root.start_ns == round(0.1 * S)


def test_nothing_is_written_before_it_is_due(tmp_path: Path) -> None:
    smp = sample(collector_folder(tmp_path), START, START + 5 * S)
    out = tmp_path / "replay.jsonl"
    replay = Replay(smp, copies=1, path=out, begin_ns=0, seed=1)
    replay.write_until(round(1.45 * S))
    assert replay.lines == 1 and replay.due_ns == round(1.5 * S)
    replay.write_until(round(1.5 * S))
    assert replay.lines == 2 and replay.due_ns == smp.duration_ns + round(1.4 * S)
