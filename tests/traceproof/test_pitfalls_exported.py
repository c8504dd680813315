"""The pitfalls exported (``make pitfalls EXPORT=1``): each run leaves over OTLP whole, and the doctor judges it alone.

Each run sends its spans as export mode sends them, over OTLP/HTTP, here to
the tests' receiver (tests/support/otlp_sink.py), which decodes them as the
Collector does. Each run is judged on its own, as a window that holds that run
alone: each broken run named by its kind and its ``pitfalls-`` service, each
fixed run clean (both runs of the outliving task are: it keeps its context).
tests/e2e/test_pitfalls_on_the_stack.py does the same through the Collector
and Jaeger, with the doctor's command line.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from itertools import pairwise

import pytest

from examples.pitfalls import fresh_context, message_headers, outliving_task, threads, uninstrumented_client
from examples.pitfalls.__main__ import main
from examples.pitfalls.export import EXPORT_VARIABLE, ExportedRun, exported_runs
from examples.pitfalls.story import Outcome
from tests.support.cli import run_module
from tests.support.otlp_sink import OtlpSink, SpanStore
from traceproof.doctor import BreakKind, diagnose
from traceproof.doctor.calls import caller_address
from traceproof.doctor.calls import request as http_request
from traceproof.sources import MemorySource
from traceproof.spans import Span
from traceproof.traces import Traces

Expected = tuple[BreakKind, str, str | None] | None

#: Every run, in the order ``python -m examples.pitfalls`` runs them, by the label it prints:
#: how to run it alone, and the break the doctor must name in a window holding it alone.
RUNS: dict[str, tuple[Callable[[], Outcome], Expected]] = {
    "broken: Context()": (fresh_context.broken, (BreakKind.CONTEXT_LOST, "pitfalls-checkout", "pitfalls-inventory")),
    "fixed: get_current()": (fresh_context.fixed, None),
    "broken: executor.submit(fn)": (
        lambda: threads.run("executor.submit(fn)"),
        (BreakKind.CONTEXT_LOST, "pitfalls-checkout", None),
    ),
    "fixed: executor.submit(copy_context().run, fn)": (lambda: threads.run("executor.submit(copy_context().run, fn)"), None),
    "broken: loop.run_in_executor(None, fn)": (
        lambda: threads.run("loop.run_in_executor(None, fn)"),
        (BreakKind.CONTEXT_LOST, "pitfalls-checkout", None),
    ),
    "fixed: asyncio.to_thread(fn)": (lambda: threads.run("asyncio.to_thread(fn)"), None),
    "broken: create_task(work)": (outliving_task.broken, None),
    "fixed: bound to the request's deadline": (outliving_task.fixed, None),
    "broken: httpx.AsyncClient()": (
        uninstrumented_client.broken,
        (BreakKind.NO_CLIENT_SPAN, "pitfalls-checkout", "pitfalls-inventory"),
    ),
    "fixed: the instrumented client": (uninstrumented_client.fixed, None),
    "broken: headers left empty": (message_headers.broken, (BreakKind.NOT_PROPAGATED, "pitfalls-checkout", "pitfalls-mailer")),
    "fixed: inject, then extract": (message_headers.fixed, None),
}

EXPORTED_SERVICES = {"pitfalls-checkout", "pitfalls-inventory", "pitfalls-mailer"}


@pytest.fixture
def exporting(monkeypatch: pytest.MonkeyPatch, sink: OtlpSink) -> OtlpSink:
    """Export mode, over http/protobuf to the tests' receiver, whatever the environment said."""
    monkeypatch.setenv(EXPORT_VARIABLE, "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.http_endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    return sink


def arrived(store: SpanStore, spans_by_trace: dict[str, int]) -> dict[str, list[Span]]:
    """Each trace as the receiver holds it, once it holds as many spans as were sent (read as the plugin reads it)."""
    reader = Traces(MemorySource(store.all))
    return {trace_id: [s.span for s in reader.get(trace_id, spans=n).spans] for trace_id, n in spans_by_trace.items()}


def shape(traces: dict[str, list[Span]]) -> list[tuple[str, str, str | None, str, str, str]]:
    return sorted((s.trace_id, s.span_id, s.parent_id, s.service, s.kind, s.name) for spans in traces.values() for s in spans)


def request_and_piece(traces: dict[str, list[Span]]) -> tuple[str, str]:
    """A broken run's two traces: checkout's request, and the piece that broke off it."""
    (request,) = [t for t, spans in traces.items() if any(s.name == "POST /checkout" for s in spans)]
    (piece,) = set(traces) - {request}
    return request, piece


def assert_judged(label: str, traces: dict[str, list[Span]]) -> None:
    """The doctor on a window holding this run alone says what RUNS expects."""
    diagnosis = diagnose(traces)
    expected = RUNS[label][1]
    assert diagnosis.doubts == []
    if expected is None:
        assert diagnosis.breaks == [] and diagnosis.traces_broken == 0
        return
    assert [(b.kind, b.service, b.peer) for b in diagnosis.breaks] == [expected]
    (found,) = diagnosis.breaks
    request, piece = request_and_piece(traces)
    assert found.count == 1 and found.trace_ids == [piece]
    assert found.breaks[0].split_from == request


@pytest.mark.parametrize("label", list(RUNS))
def test_each_run_arrives_as_recorded_under_its_exported_names_and_is_judged_alone(
    label: str, exporting: OtlpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = RUNS[label][0]()

    spans_by_trace = {trace_id: len(spans) for trace_id, spans in outcome.traces.items()}
    assert exported_runs(capsys.readouterr().out) == [ExportedRun(label, spans_by_trace)]
    traces = arrived(exporting.store, spans_by_trace)
    assert shape(traces) == shape(outcome.traces)
    services = {s.service for spans in traces.values() for s in spans}
    assert "pitfalls-checkout" in services and services <= EXPORTED_SERVICES
    assert_judged(label, traces)


def test_the_uninstrumented_client_exported_makes_one_connected_call_before_the_bare_one(exporting: OtlpSink) -> None:
    """What lets the doctor learn checkout's address from the broken run alone."""
    traces = uninstrumented_client.broken().traces
    request, piece = request_and_piece(traces)

    connected = next(s for s in traces[request] if s.kind == "client")
    (continued,) = [s for s in traces[request] if s.parent_id == connected.span_id]
    (bare,) = traces[piece]
    assert continued.service == bare.service == "pitfalls-inventory" and bare.kind == "server" and bare.parent_id is None
    assert caller_address(continued) == caller_address(bare) is not None
    assert http_request(continued) != http_request(
        bare
    )  # so the connected call's CLIENT span cannot be taken for the bare call's
    assert connected.end_ns < bare.start_ns


def test_make_pitfalls_export_names_each_run_in_order_one_after_the_other(sink: OtlpSink) -> None:
    """The command the stack's test runs: every run printed, sent whole, and ended before the next began."""
    result = run_module(
        "examples.pitfalls",
        timeout_s=120,
        PITFALLS_EXPORT="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=sink.http_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    assert result.returncode == 0, result.stderr
    assert uninstrumented_client.TITLE in result.stdout  # still shown side by side
    runs = exported_runs(result.stdout)
    assert [run.label for run in runs] == list(RUNS)

    extents = []
    for run in runs:
        traces = arrived(sink.store, run.spans_by_trace)
        assert {trace_id: len(spans) for trace_id, spans in traces.items()} == run.spans_by_trace
        assert_judged(run.label, traces)
        spans = [s for trace in traces.values() for s in trace]
        extents.append((min(s.start_ns for s in spans), max(s.end_ns for s in spans)))
    # What lets the stack's test give each run a window of its own.
    for (_, end), (start, _) in pairwise(extents):
        assert end < start


def test_without_export_mode_a_run_sends_and_prints_nothing_and_keeps_the_services_names(
    monkeypatch: pytest.MonkeyPatch, sink: OtlpSink, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(EXPORT_VARIABLE, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.http_endpoint)

    outcome = message_headers.broken()

    assert capsys.readouterr().out == ""
    assert {s.service for spans in outcome.traces.values() for s in spans} == {"checkout", "mailer"}
    assert not [s for s in sink.store.all() if s.trace_id in outcome.traces]


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: every connection to it is refused, at once and for certain."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_spans_that_cannot_be_sent_stop_the_examples_with_a_sentence_that_says_where_they_went(
    monkeypatch: pytest.MonkeyPatch, refusing_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"http://127.0.0.1:{refusing_port}"
    monkeypatch.setenv(EXPORT_VARIABLE, "1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")  # the exporter's retries give up after it
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)

    assert main(["message_headers"]) == 1

    out, err = capsys.readouterr()
    assert "could not be sent over OTLP" in err and endpoint in err and "make up" in err
    assert message_headers.TITLE not in out
