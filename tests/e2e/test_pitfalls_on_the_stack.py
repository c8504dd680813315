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
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import pairwise

import pytest

from examples.pitfalls.export import ExportedRun, exported_runs
from tests.support.cli import run_module
from tests.support.doctor import doctor
from traceproof.jaeger import JaegerClient, has_spans
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


@pytest.mark.parametrize("label", list(EXPECTED))
def test_the_doctor_names_each_broken_run_and_finds_nothing_in_each_fixed_one(label: str, windows: dict[str, RunWindow]) -> None:
    window = windows[label]

    status, report = doctor(window.since_ns, window.until_ns)

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
