"""The five silent breaks, each run broken and fixed side by side, on real SDK spans.

Each example records its spans with its own TracerProvider and an in-memory
exporter (examples/pitfalls/recorder.py). The broken run must show the break
(an orphan trace, or work that runs on unbounded), the fixed run must not.
"""

from __future__ import annotations

import pytest

from examples.pitfalls import fresh_context, message_headers, outliving_task, threads, uninstrumented_client
from examples.pitfalls.story import Outcome
from tests.support.cli import run_module
from traceproof.trace import Trace, TraceSpan


def traces_of(outcome: Outcome) -> list[Trace]:
    return [Trace(trace_id, spans) for trace_id, spans in outcome.traces.items()]


def roots(outcome: Outcome) -> list[TraceSpan]:
    return sorted((r for t in traces_of(outcome) for r in t.roots), key=lambda s: s.span.start_ns)


def one(outcome: Outcome, **selectors: str) -> TraceSpan:
    """The one span of any of the outcome's traces that matches, as :meth:`Trace.one` finds it in its trace."""
    found = [t for t in traces_of(outcome) if t.find(**selectors)]
    assert len(found) == 1, f"{selectors} in {len(found)} traces, not one"
    return found[0].one(**selectors)


def test_1_a_fresh_context_orphans_the_downstream_call_and_the_request_context_keeps_it() -> None:
    broken, fixed = fresh_context.broken(), fresh_context.fixed()

    assert broken.trace_count == 2
    request, orphan = roots(broken)
    assert (request.service, request.kind, request.name) == ("checkout", "server", "POST /checkout")
    # The call and everything downstream of it went to a trace of their own.
    assert (orphan.service, orphan.kind) == ("checkout", "client")
    assert one(broken, service="inventory", kind="server").span.parent_id == orphan.span_id
    assert orphan.trace_id != request.trace_id

    assert fixed.trace_count == 1
    server = one(fixed, service="checkout", kind="server")
    client = one(fixed, service="checkout", kind="client")
    assert client.span.parent_id == server.span_id
    assert one(fixed, service="inventory", kind="server").span.parent_id == client.span_id


@pytest.mark.parametrize(
    ("broken_how", "fixed_how"),
    [
        ("executor.submit(fn)", "executor.submit(copy_context().run, fn)"),
        ("loop.run_in_executor(None, fn)", "asyncio.to_thread(fn)"),
    ],
)
def test_2_a_thread_without_the_context_orphans_its_span(broken_how: str, fixed_how: str) -> None:
    assert threads.HANDOVERS[broken_how] is False and threads.HANDOVERS[fixed_how] is True
    broken, fixed = threads.run(broken_how), threads.run(fixed_how)

    assert broken.trace_count == 2
    assert [s.name for s in roots(broken)] == ["POST /checkout", "render receipt"]

    assert fixed.trace_count == 1
    assert one(fixed, name="render receipt").span.parent_id == one(fixed, name="POST /checkout").span_id


def test_3_a_task_without_a_deadline_runs_on_and_one_bound_to_the_request_stops_at_its_deadline() -> None:
    broken, fixed = outliving_task.broken(), outliving_task.fixed()
    # create_task keeps the context either way: one trace each...
    assert broken.trace_count == 1 and fixed.trace_count == 1

    # Span times are wall-clock, asyncio's monotonic: a wall clock being slewed (chrony's
    # maximum is 8.3 %) runs up to a tenth fast or slow against the times the example sets.
    slew = 0.9

    # ...but unbound, the work runs its full course, long after the answer and past the deadline.
    request = one(broken, name="POST /checkout")
    work = one(broken, name="send confirmation")
    assert work.span.parent_id == request.span_id
    assert work.duration.total_seconds() >= outliving_task.WORK_S * slew
    assert work.span.end_ns > request.span.end_ns
    assert work.status == "unset"

    # Bound to the request's deadline, it is cancelled there, and its span says so: it ends at
    # the deadline or after it, and before the work's own end would have come.
    request = one(fixed, name="POST /checkout")
    work = one(fixed, name="send confirmation")
    assert work.span.parent_id == request.span_id
    ended_after_request_start = (work.span.end_ns - request.span.start_ns) / 1e9
    assert outliving_task.DEADLINE_S * slew <= ended_after_request_start
    assert work.duration.total_seconds() < outliving_task.WORK_S * slew
    assert work.status == "error" and work.span.error == ("CancelledError", "cancelled at the request's deadline")


def test_4_a_client_outside_the_instrumentation_sends_no_traceparent() -> None:
    broken, fixed = uninstrumented_client.broken(), uninstrumented_client.fixed()

    assert broken.trace_count == 2
    request, downstream = roots(broken)
    assert request.name == "POST /checkout"
    assert (downstream.service, downstream.kind) == ("inventory", "server")
    assert not [s for t in traces_of(broken) for s in t.find(kind="client")]

    assert fixed.trace_count == 1
    client = one(fixed, kind="client")
    assert client.span.parent_id == one(fixed, name="POST /checkout").span_id
    assert client.attributes.get("http.request.method", client.attributes.get("http.method")) == "GET"
    assert one(fixed, service="inventory", kind="server").span.parent_id == client.span_id


def test_5_context_injected_into_a_message_and_extracted_by_the_consumer_makes_one_trace() -> None:
    broken, fixed = message_headers.broken(), message_headers.fixed()

    assert broken.trace_count == 2
    consumer = one(broken, kind="consumer")
    assert consumer.span.parent_id is None and consumer.service == "mailer"

    assert fixed.trace_count == 1
    producer = one(fixed, kind="producer")
    assert producer.span.parent_id == one(fixed, name="POST /checkout").span_id
    consumer = one(fixed, kind="consumer")
    assert consumer.span.parent_id == producer.span_id and consumer.service == "mailer"


def test_make_pitfalls_shows_every_pair_with_its_verdict() -> None:
    result = run_module("examples.pitfalls", timeout_s=60)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in (fresh_context.TITLE, threads.TITLE, outliving_task.TITLE, uninstrumented_client.TITLE, message_headers.TITLE):
        assert title in out
    for verdict in (
        "broken: Context(): 2 traces",
        "fixed: get_current(): 1 trace",
        "broken: executor.submit(fn): 2 traces",
        "fixed: asyncio.to_thread(fn): 1 trace",
        "broken: httpx.AsyncClient(): 2 traces",
        "fixed: the instrumented client: 1 trace",
        "broken: headers left empty: 2 traces",
        "fixed: inject, then extract: 1 trace",
        "✗ CancelledError: cancelled at the request's deadline",
    ):
        assert verdict in out, verdict


def test_an_unknown_pitfall_is_refused() -> None:
    result = run_module("examples.pitfalls", "no_such_pitfall")
    assert result.returncode == 2 and "choose from fresh_context" in result.stderr
