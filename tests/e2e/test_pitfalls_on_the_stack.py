"""The five pitfalls against the stack: exported to the Collector, read from Jaeger, judged by the doctor's command line.

``python -m examples.pitfalls`` with ``PITFALLS_EXPORT=1`` (``make pitfalls
EXPORT=1``) runs every pitfall broken and fixed, one run after the other; each
run sends its spans, under ``pitfalls-`` service names, to the Collector as it
ends, and prints the traces it sent. Once Jaeger holds them all, each run gets
a window of its own: from halfway between the previous run's last span and its
first span, to halfway between its last span and the next run's first (the
first window opens before the command, the last closes after it). The runs
follow one another, so no window holds a span of another run. Over each window
the doctor must name the broken run's break, by its kind and its ``pitfalls-``
service, and find nothing in a fixed run, nor in either run of the outliving
task, which keeps its context. tests/traceproof/test_pitfalls_exported.py
proves the same without the stack.

The Collector also writes every span to a file (its ``file`` exporter); the
doctor's verdict over each window read from that file must be the one it
gives over Jaeger: the same kinds, edges and counts, with no Jaeger at all.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

from examples.pitfalls.export import ExportedRun, exported_runs
from tests.e2e.conftest import compose
from tests.support.cli import run_module
from tests.support.doctor import doctor
from tests.support.load import wait_until
from traceproof.errors import TraceNotFound
from traceproof.jaeger import JaegerClient, has_spans
from traceproof.sources import OtlpFileSource
from traceproof.spans import Span

#: The stack's Collector, OTLP/HTTP, as docker-compose.yml publishes it.
COLLECTOR_OTLP_URL = "http://127.0.0.1:4318"

#: Every run, in the order the command runs them, by the label it prints: the
#: break the doctor must report over its window (kind, service, peer), or None.
EXPECTED: dict[str, tuple[str, str, str | None] | None] = {
    "broken: Context()": ("context_lost", "pitfalls-checkout", "pitfalls-inventory"),
    "fixed: get_current()": None,
    "broken: executor.submit(fn)": ("context_lost", "pitfalls-checkout", None),
    "fixed: executor.submit(copy_context().run, fn)": None,
    "broken: loop.run_in_executor(None, fn)": ("context_lost", "pitfalls-checkout", None),
    "fixed: asyncio.to_thread(fn)": None,
    "broken: create_task(work)": None,
    "fixed: bound to the request's deadline": None,
    "broken: httpx.AsyncClient()": ("no_client_span", "pitfalls-checkout", "pitfalls-inventory"),
    "fixed: the instrumented client": None,
    "broken: headers left empty": ("not_propagated", "pitfalls-checkout", "pitfalls-mailer"),
    "fixed: inject, then extract": None,
}


@dataclass(frozen=True)
class RunWindow:
    """One run as Jaeger holds it, and the window that holds it alone."""

    run: ExportedRun
    spans: list[Span]
    since_ns: int
    until_ns: int

    def request_trace(self) -> str:
        """The trace of checkout's request (a broken run's other trace is the piece that broke off it)."""
        (trace_id,) = {s.trace_id for s in self.spans if s.name == "POST /checkout"}
        return trace_id


@pytest.fixture(scope="module")
def windows(jaeger: JaegerClient) -> dict[str, RunWindow]:
    since = time.time_ns()
    result = run_module(
        "examples.pitfalls",
        timeout_s=300,
        PITFALLS_EXPORT="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=COLLECTOR_OTLP_URL,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    until = time.time_ns()
    assert result.returncode == 0, result.stdout + result.stderr
    runs = exported_runs(result.stdout)
    assert [run.label for run in runs] == list(EXPECTED)

    # Every span of every run in Jaeger (the doctor would call a parent still on its way lost).
    held = [[s for trace_id, n in run.spans_by_trace.items() for s in jaeger.wait_for(trace_id, has_spans(n))] for run in runs]
    extents = [(min(s.start_ns for s in spans), max(s.end_ns for s in spans)) for spans in held]
    for (_, end), (start, _) in pairwise(extents):
        assert end < start, "the runs overlap in time"
    bounds = [since, *((end + start) // 2 for (_, end), (start, _) in pairwise(extents)), until]
    return {
        run.label: RunWindow(run, spans, bounds[i], bounds[i + 1]) for i, (run, spans) in enumerate(zip(runs, held, strict=True))
    }


@pytest.fixture(scope="module")
def collector_file(windows: dict[str, RunWindow], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Collector's file exporter output, copied out once it holds every span of every run (it flushes each second)."""
    folder = tmp_path_factory.mktemp("collector")

    def copy_holds_every_span() -> bool:
        compose("cp", "otel-collector:/var/lib/otelcol/traces", str(folder))
        source = OtlpFileSource(folder / "traces")
        try:
            return all(len(source.trace(t)) >= n for w in windows.values() for t, n in w.run.spans_by_trace.items())
        except TraceNotFound:
            return False

    wait_until(copy_holds_every_span, timeout_s=30, what="every pitfall span in the Collector's file")
    return folder / "traces"


def verdict(report: dict[str, object]) -> list[tuple[object, ...]]:
    breaks: list[dict[str, object]] = report["breaks"]  # type: ignore[assignment]
    return sorted((b["kind"], b["service"], b["peer"], b["count"]) for b in breaks)


@pytest.mark.parametrize("label", list(EXPECTED))
def test_the_doctor_names_each_broken_run_and_finds_nothing_in_each_fixed_one(
    label: str, windows: dict[str, RunWindow], collector_file: Path
) -> None:
    window = windows[label]

    status, report = doctor(window.since_ns, window.until_ns)
    file_status, file_report = doctor(window.since_ns, window.until_ns, "--otlp-file", str(collector_file))
    assert (file_status, verdict(file_report)) == (status, verdict(report)), "the Collector's file and Jaeger disagree"
    assert file_report["traces_checked"] == report["traces_checked"]

    breaks = report["breaks"]
    assert report["traces_checked"] >= len(window.run.trace_ids)
    assert report["doubts"] == [], json.dumps(report["doubts"], indent=1)
    expected = EXPECTED[label]
    if expected is None:
        assert breaks == [], json.dumps(breaks, indent=1)
        assert status == 0
        return
    assert [(b["kind"], b["service"], b["peer"]) for b in breaks] == [expected], json.dumps(breaks, indent=1)
    assert status == 1
    (found,) = breaks
    request = window.request_trace()
    (piece,) = set(window.run.trace_ids) - {request}
    assert found["count"] == 1 and found["trace_ids"] == [piece]
    assert found["occurrences"][0]["split_from"] == request
