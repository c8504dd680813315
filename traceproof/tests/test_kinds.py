"""Each kind of break, on a constructed window: named, placed at the service where the fix belongs, both halves given."""

from __future__ import annotations

import pytest

from builder import CHECKOUT_ADDRESS, INVENTORY, OUTSIDE_ADDRESS, Window
from traceproof.doctor import BreakKind, diagnose
from traceproof.doctor.diagnosis import BreakGroup, Diagnosis
from traceproof.doctor.findings import Side


def where(found: BreakGroup) -> tuple[object, ...]:
    """A break's kind and place: (kind, service, peer, edge)."""
    return (found.kind, found.service, found.peer, found.edge)


def only_break(diagnosis: Diagnosis) -> BreakGroup:
    assert len(diagnosis.breaks) == 1, [(b.kind, b.service, b.peer) for b in diagnosis.breaks]
    return diagnosis.breaks[0]


def test_a_span_whose_parent_never_arrived_is_a_lost_parent_of_its_service() -> None:
    w = Window()
    w.order(0)
    order = w.order(200)
    (served,) = [s for s in w.spans if s.trace_id == order.trace_id and s.service == "inventory"]
    w.lost_parent(served)

    diagnosis = diagnose(w.traces())

    found = only_break(diagnosis)
    assert (found.kind, found.service, found.peer, found.count) == (BreakKind.LOST_PARENT, "inventory", None, 1)
    assert found.trace_ids == [order.trace_id]
    assert "1 span of inventory" in found.evidence
    assert "pipeline" in found.advice[0]
    assert diagnosis.traces_checked == 2 and diagnosis.traces_broken == 1


@pytest.mark.parametrize(
    ("stock_call", "kind", "side", "said"),
    [
        # The same two services connect on another call: the break is a code path in the caller.
        ("not_propagated", BreakKind.NOT_PROPAGATED, Side.SOME_CALLS, f"from {CHECKOUT_ADDRESS}, where checkout calls from"),
        # A call made outside the instrumentation: no CLIENT span, so no context either.
        (
            "no_client_span",
            BreakKind.NO_CLIENT_SPAN,
            Side.NONE,
            f"came from {CHECKOUT_ADDRESS}, where checkout calls from (1 connected call)",
        ),
    ],
)
def test_a_call_that_reached_the_callee_without_its_context_is_a_break_of_the_caller_joined_to_the_root_it_became(
    stock_call: str, kind: BreakKind, side: Side, said: str
) -> None:
    w = Window()
    w.order(0)  # connected: teaches the doctor where checkout calls from and where inventory answers
    order = w.order(200, stock_call=stock_call)
    (orphan,) = [s for s in w.spans if s.service == "inventory" and s.parent_id is None]

    diagnosis = diagnose(w.traces())

    found = only_break(diagnosis)
    assert (found.kind, found.service, found.peer, found.edge, found.side) == (
        kind,
        "checkout",
        "inventory",
        ("checkout", "inventory"),
        side,
    )
    assert found.trace_ids == [orphan.trace_id]
    assert found.breaks[0].split_from == order.trace_id
    assert said in found.evidence
    assert diagnosis.edges[("checkout", "inventory")].checked == 2
    assert diagnosis.edges[("checkout", "inventory")].broken == 1
    assert diagnosis.services["checkout"].broken == 1 and diagnosis.services["inventory"].broken == 1


def test_not_propagated_with_no_connected_call_matches_on_time_method_and_path_and_says_the_caller_was_not_checked() -> None:
    w = Window()
    w.order(0, stock_call="not_propagated")

    found = only_break(diagnose(w.traces()))

    assert (found.kind, found.service, found.peer, found.side) == (
        BreakKind.NOT_PROPAGATED,
        "checkout",
        "inventory",
        Side.UNKNOWN,
    )
    assert "caller was not checked" in found.evidence


def test_a_call_the_caller_gave_up_on_is_not_propagated_though_the_server_went_on_after_it() -> None:
    w = Window()
    w.order(0)
    order = w.order(200, stock_call="none")
    w.call(order, "checkout", "GET", f"http://{INVENTORY}/stock/1", 210, 230)  # timed out at 230
    orphan = w.request("inventory", "GET", "/stock/1", 212, 260, address=CHECKOUT_ADDRESS)  # answered at 260, to nobody

    found = only_break(diagnose(w.traces()))

    assert (found.kind, found.service, found.trace_ids) == (BreakKind.NOT_PROPAGATED, "checkout", [orphan.trace_id])


def test_not_propagated_is_put_on_the_end_that_the_rest_of_the_window_points_at() -> None:
    def judged(checkout_sends: bool, inventory_reads: bool) -> BreakGroup:
        w = Window()
        if checkout_sends:  # checkout's calls to payments connect
            order = w.order(0, stock_call="none")
            call = w.call(order, "checkout", "POST", "http://payments:443/charges", 40, 60)
            w.request("payments", "POST", "/charges", 42, 58, address=CHECKOUT_ADDRESS, parent=call)
        if inventory_reads:  # admin's calls to inventory connect
            call = w.call(None, "admin", "GET", f"http://{INVENTORY}/stock/9", 300, 320)
            w.request("inventory", "GET", "/stock/9", 302, 318, address="10.0.0.3", parent=call)
        w.order(500, stock_call="not_propagated")
        return only_break(diagnose(w.traces()))

    sent_elsewhere = judged(checkout_sends=True, inventory_reads=False)
    assert (sent_elsewhere.side, sent_elsewhere.service, sent_elsewhere.peer) == (Side.CALLEE, "inventory", "checkout")
    read_elsewhere = judged(checkout_sends=False, inventory_reads=True)
    assert (read_elsewhere.side, read_elsewhere.service, read_elsewhere.peer) == (Side.CALLER, "checkout", "inventory")
    both = judged(checkout_sends=True, inventory_reads=True)
    assert (both.side, both.service) == (Side.BETWEEN, "checkout")
    assert "proxy" in both.advice[0]


def test_a_message_published_without_its_context_is_not_propagated_to_its_consumer() -> None:
    w = Window()
    order = w.order(0, stock_call="none")
    w.publish(order, "orders", 40, 45)
    consumed = w.consume("mailer", "orders", 300, 320)  # long after: a queue takes its time

    found = only_break(diagnose(w.traces()))

    assert where(found) == (BreakKind.NOT_PROPAGATED, "checkout", "mailer", ("checkout", "mailer"))
    assert found.message and found.trace_ids == [consumed.trace_id]
    assert "propagate.inject" in found.advice[1]


def test_work_begun_without_the_requests_context_is_context_lost_where_it_runs() -> None:
    w = Window()
    order = w.order(0)
    receipt = w.work("checkout", "render receipt", 40, 60)  # a root, inside the order

    found = only_break(diagnose(w.traces()))

    assert where(found) == (BreakKind.CONTEXT_LOST, "checkout", None, None)
    assert found.trace_ids == [receipt.trace_id]
    assert found.breaks[0].split_from == order.trace_id
    assert "copy_context" in found.advice[1]


def test_a_call_begun_without_the_requests_context_is_context_lost_on_its_edge() -> None:
    w = Window()
    w.order(0, stock_call="none")
    call = w.call(None, "checkout", "GET", f"http://{INVENTORY}/stock/1", 40, 60)  # a fresh context: a root CLIENT span
    w.request("inventory", "GET", "/stock/1", 42, 58, address=CHECKOUT_ADDRESS, parent=call)

    found = only_break(diagnose(w.traces()))

    assert where(found) == (BreakKind.CONTEXT_LOST, "checkout", "inventory", ("checkout", "inventory"))
    assert found.trace_ids == [call.trace_id]


def test_breaks_of_one_kind_at_one_place_are_counted_together_and_tallied_per_edge_and_service() -> None:
    w = Window()
    for i in range(5):
        w.order(i * 200)
    for i in range(5, 8):
        w.order(i * 200, stock_call="no_client_span")
    w.request("inventory", "GET", "/stock/2", 2000, 2010, address=OUTSIDE_ADDRESS)  # someone at the host

    diagnosis = diagnose(w.traces())

    found = only_break(diagnosis)
    assert found.count == 3 and len(found.trace_ids) == 3
    assert diagnosis.traces_checked == 5 + 3 * 2 + 1
    assert diagnosis.traces_broken == 3 * 2
    edge = diagnosis.edges[("checkout", "inventory")]
    assert (edge.checked, edge.connected, edge.broken) == (8, 5, 3)
    assert (diagnosis.services["checkout"].checked, diagnosis.services["checkout"].broken) == (8, 3)
    assert (diagnosis.services["inventory"].checked, diagnosis.services["inventory"].broken) == (9, 3)
