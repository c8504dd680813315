"""The promise, request by request: one request is one trace, with the error where it happened.

Each test sends one request to checkout, takes the trace id from the answer,
and reads the spans both services exported for it: here from the test's OTLP
sink, and in tests/e2e the very same tests read them from Jaeger, through the
real Collector.
"""

from __future__ import annotations

import secrets
import time

import httpx

from tests.conftest import InventoryTimings, Spawn
from tests.support.otlp_sink import OtlpSink, Span, SpanSource
from tests.support.processes import ServiceProcess, ServiceUnderTest
from tests.support.traces import children, one, select, traceresponse

#: Attribute names of the old HTTP conventions, which must not appear.
OLD_HTTP_ATTRIBUTES = {"http.method", "http.status_code", "http.target", "http.url", "http.scheme", "net.peer.name", "http.host"}


def place(checkout: ServiceUnderTest, sku: str, quantity: int = 1, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{checkout.url}/checkout", json={"sku": sku, "quantity": quantity}, timeout=10, **kwargs)


def trace_of(response: httpx.Response) -> str:
    """The trace id the response names, checked to be the same in the header and the body."""
    trace_id = response.json()["trace_id"]
    assert traceresponse(response).trace_id == trace_id
    return trace_id


def inventory_servers(spans: list[Span]) -> list[Span]:
    return select(spans, service="inventory", kind="SERVER")


def checkout_server(spans: list[Span]) -> list[Span]:
    return select(spans, service="checkout", kind="SERVER")


def test_a_checkout_is_one_trace_across_both_services(checkout: ServiceUnderTest, traces: SpanSource) -> None:
    response = place(checkout, "item-123", 2)
    assert response.status_code == 201
    body = response.json()
    assert body["sku"] == "item-123" and body["quantity"] == 2 and len(body["order_id"]) == 32
    trace_id = trace_of(response)

    spans = traces.wait_for(
        trace_id,
        lambda s: (
            len(inventory_servers(s)) == 2
            and bool(checkout_server(s))
            and bool(select(s, name="render receipt"))
            and bool(select(s, name="confirm order"))
        ),
    )

    # checkout's SERVER span is the root; the traceresponse header names it.
    server = one(spans, service="checkout", kind="SERVER")
    assert server.parent_id is None and server.name == "POST /checkout"
    assert traceresponse(response).span_id == server.span_id
    assert server.status == "UNSET" and server.attributes["http.response.status_code"] == 201

    # checkout's two calls to inventory are CLIENT spans under it, each continued by inventory.
    clients = select(spans, service="checkout", kind="CLIENT")
    assert sorted(c.name for c in clients) == ["GET", "POST"]
    for client in clients:
        assert client.parent_id == server.span_id
        (continued,) = [s for s in inventory_servers(spans) if s.parent_id == client.span_id]
        assert continued.attributes["http.request.method"] == client.name
        # Each SQL statement inventory ran for it is a span, made on a pool thread.
        statements = [s for s in children(spans, continued) if s.attributes.get("db.system.name") == "sqlite"]
        assert statements, f"no SQL spans under {continued.name}"
        assert all(s.kind == "CLIENT" for s in statements)
    reservation = one(spans, service="inventory", kind="SERVER", name="POST /reservations")
    sql = [s.attributes["db.query.text"] for s in children(spans, reservation)]
    assert any(q.startswith("UPDATE stock") for q in sql)

    # The confirmation checkout sends after replying stays in the trace: a task, then a thread.
    confirm = one(spans, service="checkout", name="confirm order")
    assert confirm.parent_id == server.span_id
    assert one(spans, name="render receipt").parent_id == confirm.span_id

    # Two services, nothing else; no internal ASGI send/receive spans; stable conventions only.
    assert {s.service for s in spans} == {"checkout", "inventory"}
    assert not [s.name for s in spans if s.name.endswith((" http send", " http receive"))]
    for span in spans:
        assert not OLD_HTTP_ATTRIBUTES & span.attributes.keys(), (span.name, span.attributes)
        assert "db.statement" not in span.attributes


def test_when_inventory_crashes_the_error_is_on_the_span_where_it_happened(
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, traces: SpanSource, jaeger_ui_url: str
) -> None:
    # One request...
    response = place(checkout, "fault-crash")
    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "inventory_failed"
    # ...one trace id, in the answer and in the link to it...
    trace_id = trace_of(response)
    assert body["trace_url"] == f"{jaeger_ui_url}/trace/{trace_id}"

    # ...two services in that one trace...
    spans = traces.wait_for(trace_id, lambda s: bool(inventory_servers(s)) and bool(checkout_server(s)))
    crashed = one(spans, service="inventory", kind="SERVER")
    client = one(spans, service="checkout", kind="CLIENT")
    server = one(spans, service="checkout", kind="SERVER")
    assert crashed.parent_id == client.span_id and client.parent_id == server.span_id

    # ...and the error where it happened: inventory raised, with its exception recorded...
    assert crashed.status == "ERROR"
    assert crashed.attributes["http.response.status_code"] == 500
    exception = crashed.event("exception")
    assert exception is not None
    assert exception.attributes["exception.type"].endswith("SimulatedCrash")
    assert "fault-crash" in exception.attributes["exception.message"]
    assert "inventory/faults.py" in exception.attributes["exception.stacktrace"]
    # ...checkout's call saw a 500...
    assert client.status == "ERROR"
    assert client.attributes["http.response.status_code"] == 500 and client.attributes["error.type"] == "500"
    # ...and checkout answered 502 because of it.
    assert server.status == "ERROR" and server.attributes["http.response.status_code"] == 502

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
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, traces: SpanSource, timings: InventoryTimings
) -> None:
    started = time.monotonic()
    response = place(checkout, "fault-slow")
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json()["error"] == "inventory_timeout"
    # Answered at the deadline: not before it, and before inventory's slow answer would have come.
    assert timings.inventory_timeout_s <= elapsed < timings.inventory_slow_s, elapsed
    trace_id = trace_of(response)

    spans = traces.wait_for(trace_id, lambda s: bool(inventory_servers(s)) and bool(checkout_server(s)))
    client = one(spans, service="checkout", kind="CLIENT")
    assert client.status == "ERROR" and client.attributes["error.type"] == "ReadTimeout"
    assert client.event("exception") is not None

    # inventory's span is in the same trace, and inventory stopped when checkout gave up
    # (hung up), before its simulated delay was over: the twin of Go's ctx.Done().
    slow = one(spans, service="inventory", kind="SERVER")
    assert slow.parent_id == client.span_id
    assert slow.event("client disconnected: request cancelled") is not None
    assert (slow.end_ns - slow.start_ns) / 1e9 < timings.inventory_slow_s
    assert [line for line in inventory.logs_of(trace_id) if "cancelling" in line["message"]]

    server = one(spans, service="checkout", kind="SERVER")
    assert server.status == "ERROR" and server.attributes["http.response.status_code"] == 504


def test_sold_out_is_a_409_with_the_client_span_in_error(checkout: ServiceUnderTest, traces: SpanSource) -> None:
    response = place(checkout, "sold-out")
    assert response.status_code == 409
    assert response.json()["error"] == "out_of_stock"
    trace_id = trace_of(response)

    spans = traces.wait_for(trace_id, lambda s: len(inventory_servers(s)) == 2 and bool(checkout_server(s)))
    # A 4xx is the caller's problem: SERVER spans stay UNSET, the CLIENT span that got it is ERROR.
    assert one(spans, service="checkout", kind="SERVER").status == "UNSET"
    assert all(s.status == "UNSET" for s in inventory_servers(spans))
    refused = one(spans, service="checkout", kind="CLIENT", name="POST")
    assert refused.status == "ERROR" and refused.attributes["error.type"] == "409"


def test_an_unknown_sku_is_a_404_from_inventory(checkout: ServiceUnderTest, traces: SpanSource) -> None:
    response = place(checkout, "no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_sku"
    spans = traces.wait_for(trace_of(response), lambda s: bool(inventory_servers(s)) and bool(checkout_server(s)))
    assert one(spans, service="checkout", kind="CLIENT").attributes["http.response.status_code"] == 404


def test_inventory_down_is_a_fast_503_with_the_connection_error_on_the_client_span(
    spawn: Spawn, traces: SpanSource, timings: InventoryTimings
) -> None:
    lonely = spawn("checkout", OTEL_SERVICE_NAME="checkout-alone")  # its INVENTORY_URL points at a closed port
    elapsed = assert_inventory_down_story(lonely, traces)
    # Fast: answered before checkout's deadline, which a connection waited for would have run into.
    assert elapsed < timings.inventory_timeout_s


def assert_inventory_down_story(checkout: ServiceUnderTest, traces: SpanSource) -> float:
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
    spans = traces.wait_for(trace_of(response), lambda s: len(s) == 2)
    client = one(spans, kind="CLIENT")
    assert client.status == "ERROR" and client.attributes["error.type"] == "ConnectError"
    assert client.event("exception") is not None
    assert one(spans, kind="SERVER").attributes["http.response.status_code"] == 503
    assert httpx.get(f"{checkout.url}/readyz").status_code == 503
    return elapsed


def test_an_incoming_traceparent_is_continued(checkout: ServiceUnderTest, traces: SpanSource) -> None:
    # Random ids: Jaeger keeps traces across runs, and a reused id would merge them.
    caller_trace, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    response = place(checkout, "item-123", headers={"traceparent": f"00-{caller_trace}-{caller_span}-01"})
    assert response.status_code == 201
    assert trace_of(response) == caller_trace
    spans = traces.wait_for(caller_trace, lambda s: len(inventory_servers(s)) == 2 and bool(checkout_server(s)))
    assert one(spans, service="checkout", kind="SERVER").parent_id == caller_span


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


def test_a_malformed_traceparent_starts_a_new_trace_and_the_request_succeeds(
    checkout: ServiceUnderTest, traces: SpanSource
) -> None:
    for case, header in MALFORMED_TRACEPARENTS.items():
        response = place(checkout, "item-123", headers={"traceparent": header})
        assert response.status_code == 201, case
        trace_id = trace_of(response)
        assert trace_id not in header.lower(), case
        spans = traces.wait_for(trace_id, lambda s: bool(checkout_server(s)))
        assert one(spans, service="checkout", kind="SERVER").parent_id is None, case


def test_health_checks_are_never_traced(checkout: ServiceProcess, inventory: ServiceProcess, sink: OtlpSink) -> None:
    for service in (checkout, inventory):
        for path in ("/healthz", "/readyz"):
            response = httpx.get(f"{service.url}{path}")
            assert response.status_code == 200 and response.json()["status"] == "ok"
            assert "traceresponse" not in response.headers
    # A traced request after the probes: once its spans are in, the probes' would be too.
    response = place(checkout, "item-123")
    sink.store.wait_for(trace_of(response), lambda s: len(inventory_servers(s)) == 2)
    probed = [
        s
        for s in sink.store.all()
        if s.attributes.get("url.path") in ("/healthz", "/readyz")
        or s.attributes.get("url.full", "").endswith(("/healthz", "/readyz"))
        or s.attributes.get("db.query.text") == "SELECT 1"
    ]
    assert probed == []
