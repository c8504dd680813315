"""What the walkthrough (README quick start, docs/walkthrough.md) tells a person to do in the Jaeger UI, in a browser.

Each test places an order with the stack's checkout, waits until Jaeger's API
has the whole trace (so the page is not opened before the spans are stored),
then opens the page a person would open and reads what it shows. Every page
must load with no failed request and no console error, and each test leaves a
screenshot in build/screenshots/ (see conftest.py's ``ui`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.jaeger_ui import JaegerUI, SpanRow
from tests.e2e.conftest import CHECKOUT_URL, JAEGER_URL
from traceproof.jaeger import JaegerClient
from traceproof.spans import Span
from traceproof.traces import trace_id_of

SQL_OPERATIONS = {"BEGIN", "SELECT", "UPDATE", "INSERT", "COMMIT"}


def order(sku: str) -> httpx.Response:
    return httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": sku, "quantity": 1}, timeout=10)


def failed_order(sku: str, status: int, jaeger: JaegerClient, whole: Callable[[list[Span]], bool]) -> dict[str, Any]:
    """Order ``sku``, check the failure's status, wait until Jaeger has its whole trace; the error body."""
    response = order(sku)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    jaeger.wait_for(body["trace_id"], whole)
    return body


def test_a_crash_opened_from_its_trace_url_shows_the_error_on_every_span_and_the_exception(
    ui: JaegerUI, jaeger: JaegerClient
) -> None:
    body = failed_order("fault-crash", 502, jaeger, lambda s: len(s) == 3)

    view = ui.open_trace(body["trace_url"])
    assert view.title.startswith("checkout: POST /checkout")
    overview = view.overview()
    assert (overview["Services"], overview["Depth"], overview["Total Spans"]) == ("2", "3", "3"), overview
    assert view.rows() == [
        SpanRow("checkout", "POST /checkout", error=True, depth=1),
        SpanRow("checkout", "GET", error=True, depth=2),
        SpanRow("inventory", "GET /stock/{sku}", error=True, depth=3),
    ]

    events = view.open_span("inventory", "GET /stock/{sku}").logs()
    exceptions = [e for e in events if e.get("event") == "exception"]
    assert len(exceptions) == 1, events  # recorded once, though it was also logged
    (exception,) = exceptions
    assert exception["exception.type"] == "inventory.faults.SimulatedCrash"
    assert exception["exception.message"] == "inventory crashed while handling fault-crash (simulated)"
    assert exception["exception.stacktrace"].startswith("Traceback (most recent call last):")
    assert "inventory/faults.py" in exception["exception.stacktrace"]
    # inventory's log line of the crash is there too, as an event of the span it happened in.
    assert {"event": "unhandled error in GET /stock/fault-crash", "log.severity": "error"}.items() <= next(
        e for e in events if e.get("event", "").startswith("unhandled error")
    ).items()

    # checkout's "answered 502" line is under checkout's SERVER span.
    answered = [e for e in view.open_span("checkout", "POST /checkout").logs() if "answered 502" in e.get("event", "")]
    assert len(answered) == 1 and answered[0]["log.severity"] == "error", answered
    assert answered[0]["event"].startswith("POST /checkout answered 502 inventory_failed")


def test_a_timeout_shows_the_read_timeout_on_checkouts_call_and_inventorys_cancellation(
    ui: JaegerUI, jaeger: JaegerClient
) -> None:
    body = failed_order(
        "fault-slow",
        504,
        jaeger,
        lambda s: any(e.name == "client disconnected: request cancelled" for x in s for e in x.events) and len(s) == 3,
    )

    view = ui.open_trace(body["trace_url"])
    assert view.overview()["Services"] == "2"
    rows = {(r.service, r.operation): r for r in view.rows()}
    assert rows[("checkout", "GET")].error
    assert rows[("inventory", "GET /stock/{sku}")].depth == rows[("checkout", "GET")].depth + 1

    call = view.open_span("checkout", "GET")
    assert call.tags()["error.type"] == "ReadTimeout"
    assert "ReadTimeout" in [e.get("exception.type", "").rsplit(".", 1)[-1] for e in call.logs()]

    inventory_events = [e["event"] for e in view.open_span("inventory", "GET /stock/{sku}").logs()]
    assert "client disconnected: request cancelled" in inventory_events, inventory_events


def test_the_search_form_finds_the_crash_by_error_tag_with_both_services_and_its_errors(
    ui: JaegerUI, jaeger: JaegerClient
) -> None:
    trace_id = failed_order("fault-crash", 502, jaeger, lambda s: len(s) == 3)["trace_id"]

    results = ui.search(service="checkout", tags="error=true")
    (found,) = [r for r in results if r.trace_id_prefix == trace_id[:7]]
    assert found.title.startswith("checkout: POST /checkout")
    assert found.services == ["checkout (2)", "inventory (1)"]
    assert "3 Spans" in found.text and "3 Errors" in found.text, found.text


def test_the_trace_id_of_a_good_order_pasted_into_the_lookup_box_opens_its_trace_with_the_sql_spans(
    ui: JaegerUI, jaeger: JaegerClient
) -> None:
    response = order("item-123")
    assert response.status_code == 201
    trace_id = trace_id_of(response)
    # 13 spans: checkout's 5 (its confirmation after the reply included) and inventory's 8.
    jaeger.wait_for(trace_id, lambda s: len(s) == 13)

    view = ui.lookup(trace_id)
    assert view.page.url.endswith(f"/trace/{trace_id}")
    assert view.overview()["Total Spans"] == "13"
    rows = view.rows()
    assert not [r for r in rows if r.error]
    # Each SQL statement's row sits under one of inventory's request spans: the nearest
    # shallower row above it is inventory's GET /stock/{sku} or POST /reservations.
    sql_rows = [i for i, r in enumerate(rows) if r.operation in SQL_OPERATIONS]
    assert len(sql_rows) == 6, rows
    for i in sql_rows:
        assert rows[i].service == "inventory"
        parent = next(r for r in reversed(rows[:i]) if r.depth < rows[i].depth)
        assert (parent.service, parent.operation) in {("inventory", "GET /stock/{sku}"), ("inventory", "POST /reservations")}, (
            rows[i],
            parent,
        )


def test_the_monitor_tab_shows_inventorys_crashes_as_an_error_rate_and_links_to_their_traces(
    ui: JaegerUI, jaeger: JaegerClient
) -> None:
    """Request rate, error rate and latency from the spans' metrics, read from Prometheus by Jaeger."""
    crashes = [failed_order("fault-crash", 502, jaeger, lambda s: len(s) == 3)["trace_id"] for _ in range(3)]
    assert all(order("item-123").status_code == 201 for _ in range(3))

    monitor = ui.monitor("inventory")
    # The connector flushes and Prometheus scrapes every 5 s; Jaeger asks for rates over
    # its step. A minute is far more than that takes on a busy machine.
    stock = monitor.wait_for_operation("GET /stock/{sku}", lambda op: op.error_rate not in ("", "0%"), timeout_s=60)
    assert stock.requests and stock.latency, stock
    operations = {op.name for op in monitor.operations()}
    assert {"GET /stock/{sku}", "POST /reservations"} <= operations, operations

    url = monitor.view_traces("GET /stock/{sku}")
    assert "/search?" in url and "service=inventory" in url and "operation=GET" in url, url
    listed = {r.trace_id_prefix for r in ui.search_results()}
    assert {c[:7] for c in crashes} <= listed, (crashes, listed)


def test_the_system_architecture_tab_draws_checkout_calling_inventory(ui: JaegerUI, jaeger: JaegerClient) -> None:
    """The map a person expects: the edge as Jaeger's storage reads it from the traces' parent links across services."""
    response = order("item-123")
    # The whole order (13 spans): the edge is drawn from checkout's client span, which may arrive last.
    jaeger.wait_for(response.json()["trace_id"], lambda spans: len(spans) == 13)
    now_ms = int(time.time() * 1000)
    links = httpx.get(f"{JAEGER_URL}/api/dependencies", params={"endTs": str(now_ms), "lookback": "600000"}, timeout=10)
    links.raise_for_status()
    edges = {(d["parent"], d["child"]) for d in links.json()["data"]}
    assert ("checkout", "inventory") in edges, edges
    assert ("inventory", "checkout") not in edges, edges
    assert {"checkout", "inventory"} <= set(ui.system_architecture())
