"""Trace tests for a two-service system: checkout (the edge) calls inventory over HTTP.

Each test makes one request, then asserts on the one trace it produced, as
Jaeger holds it. Start the system first (``docker compose up --wait``), then
``pytest examples/trace_tests``.
"""

import httpx

CHECKOUT = "http://localhost:8080"


def test_an_order_is_one_connected_trace_across_both_services(traces):
    response = httpx.post(f"{CHECKOUT}/checkout", json={"sku": "item-123"}, timeout=10)
    assert response.status_code == 201

    # Wait for the 13 spans an order makes: 5 in checkout, 8 in inventory.
    trace = traces.get(response, spans=13)
    trace.assert_connected()

    assert trace.root.service == "checkout" and trace.root.kind == "server"
    stock = trace.one(service="inventory", kind="server", name="GET /stock/{sku}")
    assert stock.parent.service == "checkout" and stock.parent.kind == "client"
    assert trace.find(status="error") == []


def test_a_crash_in_inventory_is_an_error_on_the_span_where_it_happened(traces):
    response = httpx.post(f"{CHECKOUT}/checkout", json={"sku": "fault-crash"}, timeout=10)
    assert response.status_code == 502

    trace = traces.get(response, spans=3)
    trace.assert_connected()

    trace.one(service="inventory", kind="server").assert_error("SimulatedCrash")
    call = trace.one(service="checkout", kind="client", status="error")
    assert call.attributes["http.response.status_code"] == 500
