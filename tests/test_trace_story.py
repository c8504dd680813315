"""The promise, request by request: one request is one trace, with the error where it happened.

Each test sends one request to checkout and reads the trace its answer names
through the ``traces`` fixture of traceproof's pytest plugin: here from the
test's OTLP sink (tests/conftest.py), and in tests/e2e the very same tests
read it from Jaeger, through the real Collector.
"""

from __future__ import annotations

import secrets
import time

import httpx

from tests.conftest import InventoryTimings, Spawn
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import ServiceProcess, ServiceUnderTest
from traceproof.trace import Trace
from traceproof.traces import Traces, trace_id_of

#: Attribute names of the old HTTP conventions, which must not appear.
OLD_HTTP_ATTRIBUTES = {"http.method", "http.status_code", "http.target", "http.url", "http.scheme", "net.peer.name", "http.host"}


def place(checkout: ServiceUnderTest, sku: str, quantity: int = 1, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{checkout.url}/checkout", json={"sku": sku, "quantity": quantity}, timeout=10, **kwargs)


def trace_of(response: httpx.Response) -> str:
    """The trace id the response names, checked to be the same in the header and the body."""
    trace_id = response.json()["trace_id"]
    assert trace_id_of(response) == trace_id
    return trace_id


def both_calls_served(trace: Trace) -> bool:
    """checkout's request and inventory's two (stock, reservation) are in."""
    return len(trace.find(service="inventory", kind="server")) == 2 and bool(trace.find(service="checkout", kind="server"))


def test_a_checkout_is_one_trace_across_both_services(checkout: ServiceUnderTest, traces: Traces) -> None:
    response = place(checkout, "item-123", 2)
    assert response.status_code == 201
    body = response.json()
    assert body["sku"] == "item-123" and body["quantity"] == 2 and len(body["order_id"]) == 32
    trace_id = trace_of(response)

    # 13 spans: 5 of checkout (its request, two calls, the confirmation and its receipt), 8 of inventory.
    trace = traces.get(response, spans=13)
    trace.assert_connected()
    assert len(trace.spans) == 13

    # checkout's SERVER span is the root; the traceresponse header names it.
    server = trace.root
    assert (server.service, server.kind, server.name) == ("checkout", "server", "POST /checkout")
    assert response.headers["traceresponse"].split("-")[1:3] == [trace_id, server.span_id] and trace.trace_id == trace_id
    assert server.status == "unset" and server.attributes["http.response.status_code"] == 201

    # checkout's two calls to inventory are CLIENT spans under it, each continued by inventory.
    clients = trace.find(service="checkout", kind="client")
    assert sorted(c.name for c in clients) == ["GET", "POST"]
    for client in clients:
        assert client.parent is server
        (continued,) = client.children
        assert (continued.service, continued.kind) == ("inventory", "server")
        assert continued.attributes["http.request.method"] == client.name
        # Each SQL statement inventory ran for it is a span, made on a pool thread.
        statements = continued.children
        assert statements and all(s.kind == "client" and s.attributes["db.system.name"] == "sqlite" for s in statements)
    reservation = trace.one(service="inventory", kind="server", name="POST /reservations")
    assert any(s.attributes["db.query.text"].startswith("UPDATE stock") for s in reservation.children)

    # The confirmation checkout sends after replying stays in the trace: a task, then a thread.
    confirm = trace.one(service="checkout", name="confirm order")
    assert confirm.parent is server
    assert trace.one(name="render receipt").parent is confirm

    # Two services, nothing else; no internal ASGI send/receive spans; stable conventions only.
    assert {s.service for s in trace.spans} == {"checkout", "inventory"}
    assert not [s.name for s in trace.spans if s.name.endswith((" http send", " http receive"))]
    for span in trace.spans:
        assert not OLD_HTTP_ATTRIBUTES & span.attributes.keys(), (span.name, span.attributes)
        assert "db.statement" not in span.attributes


def test_when_inventory_crashes_the_error_is_on_the_span_where_it_happened(
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, traces: Traces, jaeger_ui_url: str
) -> None:
    # One request...
    response = place(checkout, "fault-crash")
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "inventory_failed"
    # ...one trace id, in the answer and in the link to it...
    trace_id = trace_of(response)
    assert body["trace_url"] == f"{jaeger_ui_url}/trace/{trace_id}"

    # ...two services in that one connected trace: checkout's request, its call, inventory's crash...
    trace = traces.get(response, spans=3)
    trace.assert_connected()
    crashed = trace.one(service="inventory", kind="server")
    client = trace.one(service="checkout", kind="client")
    server = trace.root
    assert crashed.parent is client and client.parent is server

    # ...and the error where it happened: inventory raised, with its exception recorded...
    crashed.assert_error("SimulatedCrash")
    assert crashed.attributes["http.response.status_code"] == 500
    exception = crashed.event("exception")
    assert exception is not None
    assert "fault-crash" in exception.attributes["exception.message"]
    assert "inventory/faults.py" in exception.attributes["exception.stacktrace"]
    # ...checkout's call saw a 500...
    client.assert_error()
    assert client.attributes["http.response.status_code"] == 500 and client.attributes["error.type"] == "500"
    # ...and checkout answered 502 because of it.
    server.assert_error()
    assert server.attributes["http.response.status_code"] == 502

    # The error lines logged inside the request are events of the span they were logged in;
    # the exception is on inventory's span once, though it was both recorded and logged.
    assert len([e for e in crashed.events if e.name == "exception"]) == 1
    (crash_line,) = [e for e in crashed.events if e.name == "unhandled error in GET /stock/fault-crash"]
    assert crash_line.attributes == {"log.severity": "error", "log.logger": "shoptrace.errors"}
    assert [e for e in server.events if e.name.startswith("POST /checkout answered 502 inventory_failed")]
    assert not [e for e in client.events if e.name != "exception"]

    # Both services' logs carry the trace id: an error line in checkout, one traceback in inventory.
    checkout_lines = checkout.logs_of(trace_id)
    assert [line for line in checkout_lines if line["level"] == "error"]
    assert not [line for line in checkout_lines if "exception" in line]
    tracebacks = [line for line in inventory.logs_of(trace_id) if "exception" in line]
    assert len(tracebacks) == 1
    assert tracebacks[0]["level"] == "error"
    assert tracebacks[0]["exception"].startswith("Traceback") and "SimulatedCrash" in tracebacks[0]["exception"]
    # uvicorn never saw the exception, so it printed no second traceback of its own.
    assert "Traceback" not in inventory.stderr_text() + checkout.stderr_text()


def test_a_slow_inventory_times_out_at_the_deadline_and_stops_working(
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, traces: Traces, timings: InventoryTimings
) -> None:
    started = time.monotonic()
    response = place(checkout, "fault-slow")
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json()["error"] == "inventory_timeout"
    # Answered at the deadline: not before it, and before inventory's slow answer would have come.
    assert timings.inventory_timeout_s <= elapsed < timings.inventory_slow_s, elapsed
    trace_id = trace_of(response)

    trace = traces.get(response, spans=3)
    trace.assert_connected()
    client = trace.one(service="checkout", kind="client")
    client.assert_error("ReadTimeout")
    assert client.attributes["error.type"] == "ReadTimeout"

    # inventory's span is in the same trace, and inventory stopped when checkout gave up
    # (hung up), before its simulated delay was over: the twin of Go's ctx.Done().
    slow = trace.one(service="inventory", kind="server")
    assert slow.parent is client
    assert slow.event("client disconnected: request cancelled") is not None
    assert slow.duration.total_seconds() < timings.inventory_slow_s
    assert [line for line in inventory.logs_of(trace_id) if "cancelling" in line["message"]]

    server = trace.root
    server.assert_error()
    assert server.attributes["http.response.status_code"] == 504


def test_sold_out_is_a_409_with_the_client_span_in_error(checkout: ServiceUnderTest, traces: Traces) -> None:
    response = place(checkout, "sold-out")
    assert response.status_code == 409
    assert response.json()["error"] == "out_of_stock"
    trace_of(response)

    # 11 spans: 3 of checkout (its request, its two calls), 8 of inventory (two requests, their queries).
    trace = traces.get(response, spans=11)
    trace.assert_connected()
    # A 4xx is the caller's problem: SERVER spans stay UNSET, the CLIENT span that got it is ERROR.
    assert [s.status for s in trace.find(kind="server")] == ["unset"] * 3
    refused = trace.one(service="checkout", kind="client", name="POST")
    refused.assert_error()
    assert refused.attributes["error.type"] == "409"


def test_an_unknown_sku_is_a_404_from_inventory(checkout: ServiceUnderTest, traces: Traces) -> None:
    response = place(checkout, "no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_sku"
    # 4 spans: checkout's request and its stock call, inventory's request and its query. The two
    # services export apart, so waiting for inventory's alone could return before checkout's arrive.
    trace = traces.get(trace_of(response), spans=4)
    trace.assert_connected()
    refused = trace.one(service="checkout", kind="client")
    refused.assert_error()
    assert refused.attributes["http.response.status_code"] == 404
    assert trace.one(service="inventory", kind="server").status == "unset"


def test_inventory_down_is_a_fast_503_with_the_connection_error_on_the_client_span(
    spawn: Spawn, traces: Traces, timings: InventoryTimings
) -> None:
    lonely = spawn("checkout", OTEL_SERVICE_NAME="checkout-alone")  # its INVENTORY_URL points at a closed port
    elapsed = assert_inventory_down_story(lonely, traces)
    # Fast: answered before checkout's deadline, which a connection waited for would have run into.
    assert elapsed < timings.inventory_timeout_s


def assert_inventory_down_story(checkout: ServiceUnderTest, traces: Traces) -> float:
    """What a checkout whose inventory is down answers and traces (also run against the stack).

    Returns how long the answer took, to compare with the checkout's deadline.
    A refused connection is a ConnectError at once; one that was waited for
    would have ended at the deadline as a ConnectTimeout and a 504.
    """
    started = time.monotonic()
    response = place(checkout, "item-123")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["error"] == "inventory_unavailable"
    trace = traces.get(trace_of(response), spans=2)
    trace.one(kind="client").assert_error("ConnectError")
    assert trace.one(kind="client").attributes["error.type"] == "ConnectError"
    assert trace.root.attributes["http.response.status_code"] == 503
    assert httpx.get(f"{checkout.url}/readyz").status_code == 503
    return elapsed


def test_an_incoming_traceparent_is_continued(checkout: ServiceUnderTest, traces: Traces) -> None:
    # Random ids: Jaeger keeps traces across runs, and a reused id would merge them.
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    response = place(checkout, "item-123", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"})
    assert response.status_code == 201
    assert trace_of(response) == caller_trace
    trace = traces.get(caller_trace, until=both_calls_served)
    # The caller's span is not in this trace store: checkout's request waits for it, as the root's child.
    (served,) = trace.waiting
    assert (served.service, served.kind, served.span.parent_id) == ("checkout", "server", caller_span)


MALFORMED_TRACEPARENTS = {
    "garbage": "not-a-traceparent",
    "version ff": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "zero trace id": "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "zero span id": "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "uppercase hex": "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
    "short trace id": "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
    "long span id": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7aa-01",
    "extra field on version 00": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
}


def test_a_malformed_traceparent_starts_a_new_trace_and_the_request_succeeds(checkout: ServiceUnderTest, traces: Traces) -> None:
    for case, header in MALFORMED_TRACEPARENTS.items():
        response = place(checkout, "item-123", headers={"traceparent": header})
        assert response.status_code == 201, case
        trace_id = trace_of(response)
        assert trace_id not in header.lower(), case
        trace = traces.get(trace_id, until=lambda t: bool(t.find(service="checkout", kind="server")))
        assert trace.one(service="checkout", kind="server").span.parent_id is None, case


def test_health_checks_are_never_traced(
    checkout: ServiceProcess, inventory: ServiceProcess, sink: OtlpSink, traces: Traces
) -> None:
    for service in (checkout, inventory):
        for path in ("/healthz", "/readyz"):
            response = httpx.get(f"{service.url}{path}")
            assert response.status_code == 200 and response.json()["status"] == "ok"
            assert "traceresponse" not in response.headers
    # A traced request after the probes: once its spans are in, the probes' would be too.
    response = place(checkout, "item-123")
    traces.get(response, until=both_calls_served)
    probed = [
        s
        for s in sink.store.all()
        if s.attributes.get("url.path") in ("/healthz", "/readyz")
        or s.attributes.get("url.full", "").endswith(("/healthz", "/readyz"))
        or s.attributes.get("db.query.text") == "SELECT 1"
    ]
    assert probed == []
