"""The doctor on the five pitfalls (examples/pitfalls): each broken run named by kind and service, nothing in each fixed one.

The pitfalls record real SDK spans, through the real HTTP instrumentations
where they make calls; their order in time is their cause and effect (a
call awaited inside a request ends inside it), not the machine's speed.

A doctor learns a caller's address only from calls of that caller that did
connect. The uninstrumented client's broken run has none, so on its own it
shows a root from an address nobody is known by (an entry point); in a window
that also holds a connected call, as a service that breaks on one code path
does, it is named. The outliving task keeps its context: its late span is a
child, which is exactly what the doctor must not call a break.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from examples.pitfalls import fresh_context, message_headers, outliving_task, threads, uninstrumented_client
from examples.pitfalls.story import Outcome
from traceproof.doctor import BreakKind, diagnose
from traceproof.doctor.diagnosis import Diagnosis
from traceproof.spans import Span

Pair = Callable[[], tuple[Outcome, Outcome]]

#: Each pitfall that breaks a trace: how to run it broken and fixed, and the break the doctor must name.
BREAKS: dict[str, tuple[Pair, tuple[BreakKind, str, str | None]]] = {
    "fresh_context": (lambda: (fresh_context.broken(), fresh_context.fixed()), (BreakKind.CONTEXT_LOST, "checkout", "inventory")),
    "threads executor.submit": (
        lambda: (threads.run("executor.submit(fn)"), threads.run("executor.submit(copy_context().run, fn)")),
        (BreakKind.CONTEXT_LOST, "checkout", None),
    ),
    "threads run_in_executor": (
        lambda: (threads.run("loop.run_in_executor(None, fn)"), threads.run("asyncio.to_thread(fn)")),
        (BreakKind.CONTEXT_LOST, "checkout", None),
    ),
    "uninstrumented_client": (
        lambda: (uninstrumented_client.broken(), uninstrumented_client.fixed()),
        (BreakKind.NO_CLIENT_SPAN, "checkout", "inventory"),
    ),
    "message_headers": (
        lambda: (message_headers.broken(), message_headers.fixed()),
        (BreakKind.NOT_PROPAGATED, "checkout", "mailer"),
    ),
}


def breaks(diagnosis: Diagnosis) -> list[tuple[BreakKind, str, str | None]]:
    return [(b.kind, b.service, b.peer) for b in diagnosis.breaks]


def request_and_piece(outcome: Outcome) -> tuple[str, str]:
    """The broken run's two traces: checkout's request, and the piece that broke off it."""
    (request,) = [t for t, spans in outcome.traces.items() if any(s.name == "POST /checkout" for s in spans)]
    (piece,) = set(outcome.traces) - {request}
    return request, piece


@pytest.mark.parametrize("pitfall", list(BREAKS))
def test_the_broken_run_is_named_and_the_fixed_run_is_clean(pitfall: str) -> None:
    pair, expected = BREAKS[pitfall]
    broken, fixed = pair()

    clean = diagnose(fixed.traces)
    assert breaks(clean) == [] and clean.doubts == []

    # A window with both: the broken code path among calls that connect.
    diagnosis = diagnose({**broken.traces, **fixed.traces})
    assert breaks(diagnosis) == [expected]
    (found,) = diagnosis.breaks
    request, piece = request_and_piece(broken)
    assert found.count == 1 and found.trace_ids == [piece]
    assert found.breaks[0].split_from == request
    assert diagnosis.doubts == []


@pytest.mark.parametrize("pitfall", [p for p in BREAKS if p != "uninstrumented_client"])
def test_the_broken_run_alone_is_named(pitfall: str) -> None:
    pair, expected = BREAKS[pitfall]
    broken, _ = pair()
    assert breaks(diagnose(broken.traces)) == [expected]


def test_the_uninstrumented_client_alone_shows_a_root_from_an_address_no_connected_call_names() -> None:
    diagnosis = diagnose(uninstrumented_client.broken().traces)

    assert breaks(diagnosis) == []
    assert any(e.service == "inventory" and "an address no connected call names" in e.why for e in diagnosis.entry_points)
    assert diagnosis.addresses.callers == {}  # no evidence: the doctor does not guess


def test_a_task_that_outlives_its_request_keeps_its_context_so_neither_run_is_a_break() -> None:
    broken, fixed = outliving_task.broken(), outliving_task.fixed()

    for outcome in (broken, fixed):
        diagnosis = diagnose(outcome.traces)
        assert breaks(diagnosis) == [] and diagnosis.traces_broken == 0
    (spans,) = broken.traces.values()
    request = next(s for s in spans if s.name == "POST /checkout")
    late = next(s for s in spans if s.name == "send confirmation")
    assert late.parent_id == request.span_id and late.end_ns > request.end_ns  # late, and connected


def test_every_pitfall_in_one_window_gives_each_break_once() -> None:
    window: dict[str, list[Span]] = {}
    expected = []
    for pair, kind_place in BREAKS.values():
        broken, fixed = pair()
        window.update(broken.traces)
        window.update(fixed.traces)
        expected.append(kind_place)
    window.update(outliving_task.broken().traces)

    diagnosis = diagnose(window)

    found = [(b.kind, b.service, b.peer) for b in diagnosis.breaks for _ in range(b.count)]
    assert sorted(found, key=str) == sorted(expected, key=str)
