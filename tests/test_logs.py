"""Logs: stdout is JSON lines only, and every line of a request carries its trace id."""

from __future__ import annotations

import re

import httpx

from tests.support.processes import ServiceProcess

LEVELS = {"debug", "info", "warning", "error", "critical"}
REQUIRED = ("time", "level", "service", "message", "trace_id", "span_id")


def test_stdout_holds_only_json_objects_with_the_contract_fields(checkout: ServiceProcess, inventory: ServiceProcess) -> None:
    # Make every kind of line happen at least once: success, 4xx, crash, cancellation.
    for sku in ("item-123", "sold-out", "fault-crash", "BAD SKU"):
        httpx.post(f"{checkout.url}/checkout", json={"sku": sku}, timeout=10)
    for service in (checkout, inventory):
        records = service.logs()  # fails on any line that is not a JSON object
        assert records, f"{service.module} logged nothing"
        for record in records:
            assert all(field in record for field in REQUIRED), record
            assert record["level"] in LEVELS
            assert record["service"] == service.module
            assert record["trace_id"] is None or re.fullmatch(r"[0-9a-f]{32}", record["trace_id"])
            assert record["span_id"] is None or re.fullmatch(r"[0-9a-f]{16}", record["span_id"])
        # Outside a request (start-up) there is no trace.
        assert records[0]["trace_id"] is None and records[0]["span_id"] is None


def test_a_successful_order_is_found_in_both_services_logs_by_its_trace_id(
    checkout: ServiceProcess, inventory: ServiceProcess
) -> None:
    response = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123"}, timeout=10)
    trace_id = response.json()["trace_id"]
    order_id = response.json()["order_id"]
    inventory_lines = inventory.logs_of(trace_id)
    assert [line for line in inventory_lines if f"reserved 1 of item-123 as {order_id}" in line["message"]]
    checkout_messages = [line["message"] for line in checkout.logs_of(trace_id)]
    assert f"order {order_id} placed: 1 of item-123" in checkout_messages
