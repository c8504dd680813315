"""What looks like a break and is not: each must leave the window with no break (and says why, where there is a why)."""

from __future__ import annotations

from builder import CHECKOUT_ADDRESS, INVENTORY, OUTSIDE_ADDRESS, Window
from traceproof.doctor import diagnose
from traceproof.doctor.diagnosis import Diagnosis


def assert_no_break(diagnosis: Diagnosis) -> None:
    assert diagnosis.breaks == [], [(b.kind, b.service, b.peer, b.evidence) for b in diagnosis.breaks]
    assert diagnosis.doubts == [], [d.why for d in diagnosis.doubts]
    assert diagnosis.traces_broken == 0


def reasons(diagnosis: Diagnosis, service: str) -> set[str]:
    return {e.why for e in diagnosis.entry_points if e.service == service}


def test_overlapping_requests_of_two_real_traces_are_two_connected_traces() -> None:
    w = Window()
    w.order(0)
    w.order(5)  # in flight at the same time, each with its own call to inventory
    w.order(15, path="/stock/2")

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert diagnosis.edges[("checkout", "inventory")].connected == 3


def test_a_person_calling_inventory_directly_during_an_order_is_an_entry_point() -> None:
    w = Window()
    w.order(0)
    w.order(200)
    # The same method and path, inside an order's call, but from the host: not checkout's address.
    w.request("inventory", "GET", "/stock/1", 212, 228, address=OUTSIDE_ADDRESS)

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert reasons(diagnosis, "inventory") == {"from an address no connected call names"}
    assert {e.address for e in diagnosis.entry_points if e.service == "inventory"} == {OUTSIDE_ADDRESS}


def test_a_call_that_got_no_answer_is_not_joined_to_someone_elses_request_of_the_same_path() -> None:
    w = Window()
    w.order(0)  # teaches checkout's address
    w.order(200, stock_call="unanswered")  # a CLIENT span with no child (the request never reached inventory)
    w.request("inventory", "GET", "/stock/1", 212, 228, address=OUTSIDE_ADDRESS)  # meanwhile, a person asks the same

    assert_no_break(diagnose(w.traces()))


def test_requests_of_the_same_path_before_or_after_an_unanswered_call_are_not_its_continuation() -> None:
    w = Window()  # no connected call: nothing says where checkout calls from, so time alone must tell
    w.order(0, stock_call="unanswered")  # its call runs from 10 to 30 ms
    w.request("inventory", "GET", "/stock/1", 2, 8, address=OUTSIDE_ADDRESS)
    w.request("inventory", "GET", "/stock/1", 31, 40, address=OUTSIDE_ADDRESS)

    assert_no_break(diagnose(w.traces()))


def test_a_call_to_another_services_address_is_not_joined_to_a_root_of_the_same_path_elsewhere() -> None:
    w = Window()
    order = w.order(0, stock_call="none")
    call = w.call(order, "checkout", "GET", "http://payments:443/stock/1", 5, 15)
    w.request("payments", "GET", "/stock/1", 6, 14, address=CHECKOUT_ADDRESS, parent=call)  # payments answers there
    w.call(order, "checkout", "GET", "http://payments:443/stock/1", 20, 40)  # no answer this time
    w.request("inventory", "GET", "/stock/1", 22, 38, address=CHECKOUT_ADDRESS)  # inventory, at the same moment

    diagnosis = diagnose(w.traces())

    assert [b.kind for b in diagnosis.breaks] == ["no_client_span"]  # not a not_propagated from payments' call


def test_health_probes_are_entry_points() -> None:
    w = Window()
    for i in range(3):
        w.order(i * 200)
        w.request("inventory", "GET", "/healthz", i * 200 + 15, i * 200 + 16, address="127.0.0.1")  # during an order
        w.request("inventory", "GET", "/healthz", i * 200 + 150, i * 200 + 151, address="127.0.0.1")  # between orders

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert reasons(diagnosis, "inventory") == {"from an address no connected call names"}


def test_probes_from_the_callers_own_address_are_doubts_not_breaks() -> None:
    # Everything on one host: the probe comes from checkout's address, during orders and between them.
    w = Window()
    for i in range(3):
        w.order(i * 200)
        w.request("inventory", "GET", "/healthz", i * 200 + 15, i * 200 + 16, address=CHECKOUT_ADDRESS)
        w.request("inventory", "GET", "/healthz", i * 200 + 150, i * 200 + 151, address=CHECKOUT_ADDRESS)

    diagnosis = diagnose(w.traces())

    assert diagnosis.breaks == []
    assert len(diagnosis.doubts) == 3
    assert all("also while checkout served nothing" in d.why for d in diagnosis.doubts)
    assert f"from {CHECKOUT_ADDRESS}, where checkout calls from, while checkout served no request" in reasons(
        diagnosis, "inventory"
    )


def test_a_batch_job_is_an_entry_point_even_when_it_runs_during_a_request() -> None:
    w = Window()
    w.order(0)
    w.order(200)
    w.work("checkout", "nightly export", 150, 180)  # between orders
    w.work("checkout", "nightly export", 220, 250)  # during one: the same job, not lost context
    job = w.work("batch", "reindex", 20, 400)  # a service of its own that serves nothing
    w.call(job, "batch", "POST", "http://inventory:8081/reindex", 30, 60)

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert reasons(diagnosis, "checkout") >= {
        "'nightly export' began while checkout served no request: a job or start-up work",
        "'nightly export' also begins while checkout serves no request: a job, not lost context",
    }


def test_a_background_span_that_outlives_the_reply_is_connected() -> None:
    w = Window()
    order = w.order(0)
    w.work("checkout", "send confirmation", 50, 900, parent=order)  # started in the request, ends long after it

    assert_no_break(diagnose(w.traces()))


def test_a_background_span_started_after_the_reply_with_its_context_is_connected() -> None:
    w = Window()
    order = w.order(0)
    confirm = w.work("checkout", "confirm order", 150, 180, parent=order)  # the reply went at 100 ms
    call = w.call(confirm, "checkout", "POST", f"http://{INVENTORY}/reservations/1/confirm", 155, 175)
    w.request("inventory", "POST", "/reservations/1/confirm", 157, 173, address=CHECKOUT_ADDRESS, parent=call)
    w.order(160)  # another order is being served meanwhile

    assert_no_break(diagnose(w.traces()))


def test_a_trace_begun_on_purpose_with_a_link_to_the_request_is_not_a_break() -> None:
    w = Window()
    order = w.order(0)
    w.span("checkout", "internal", "rebuild search index", 40, 60, links=[order])

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert "begun on purpose, with a link to where it came from" in reasons(diagnosis, "checkout")


def test_a_message_consumed_in_a_batch_with_links_to_its_producers_is_not_a_break() -> None:
    w = Window()
    order = w.order(0, stock_call="none")
    published = w.publish(order, "orders", 40, 45)
    w.span(
        "mailer", "consumer", "process orders", 300, 320, links=[published], attributes={"messaging.destination.name": "orders"}
    )

    assert_no_break(diagnose(w.traces()))


def test_a_message_consumed_before_the_publish_is_not_that_publish_s_message() -> None:
    w = Window()
    w.consume("mailer", "orders", 5, 8)  # from a producer that is not traced, before the order published anything
    order = w.order(0, stock_call="none")
    w.publish(order, "orders", 40, 45)  # its consumer is not traced: no child, and no root after it

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)


def test_a_root_from_the_callers_address_during_a_connected_call_for_the_same_request_is_a_doubt() -> None:
    w = Window()
    w.order(0)
    w.request("inventory", "GET", "/stock/1", 14, 26, address=CHECKOUT_ADDRESS)  # the same request, again, with no context

    diagnosis = diagnose(w.traces())

    assert diagnosis.breaks == []
    assert [d.why for d in diagnosis.doubts] == [
        f"GET /stock/1 from {CHECKOUT_ADDRESS} came while checkout was serving a request that has a CLIENT span for it"
    ]


def test_a_consumer_root_with_no_producer_in_the_window_is_an_entry_point() -> None:
    w = Window()
    w.order(0)
    w.consume("mailer", "orders", 40, 60)  # a message from a producer that is not traced

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert reasons(diagnosis, "mailer") == {"a message with no context, and no PRODUCER span without a child to match"}


def test_start_up_work_before_any_request_is_an_entry_point() -> None:
    w = Window()
    w.span("inventory", "client", "CREATE", 0, 5, attributes={"db.system.name": "sqlite"})
    w.order(100)

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    assert reasons(diagnosis, "inventory") == {"'CREATE' began while inventory served no request: a job or start-up work"}


def test_a_request_carrying_the_context_of_a_trace_begun_outside_is_an_entry_point() -> None:
    w = Window()
    w.order(0)  # teaches checkout's address
    order = w.order(200)
    # A person's curl sent a traceparent: checkout's SERVER span names a parent no exporter here ever sent.
    w.lost_parent(order)

    diagnosis = diagnose(w.traces())

    assert_no_break(diagnosis)
    (entry,) = [e for e in diagnosis.entry_points if e.trace_id == order.trace_id]
    assert (entry.service, entry.address) == ("checkout", OUTSIDE_ADDRESS)
    assert entry.why == "from an address no connected call names, carrying the context of a trace begun there"


def test_a_request_without_its_parent_from_a_known_callers_address_lost_that_parent() -> None:
    w = Window()
    w.order(0)
    order = w.order(200)
    (served,) = [s for s in w.spans if s.trace_id == order.trace_id and s.service == "inventory"]
    w.lost_parent(served)  # from checkout's address: checkout's CLIENT span was lost on its way

    diagnosis = diagnose(w.traces())

    assert [(b.kind, b.service) for b in diagnosis.breaks] == [("lost_parent", "inventory")]


def test_with_no_connected_call_to_learn_from_a_request_without_its_parent_is_a_lost_parent() -> None:
    w = Window()
    order = w.order(0, stock_call="none")
    w.lost_parent(order)  # nothing says whether 10.0.0.1 is a service or a person: no guess

    diagnosis = diagnose(w.traces())

    assert [(b.kind, b.service) for b in diagnosis.breaks] == [("lost_parent", "checkout")]
