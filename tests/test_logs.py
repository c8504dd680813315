"""Logs: stdout is JSON lines only, and every line of a request carries its trace id."""

from __future__ import annotations

import contextlib
import re
import secrets

import httpx
import pytest

from tests.conftest import Spawn
from tests.support.processes import ServiceProcess
from traceproof.traces import Traces

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


def _call_inventory(inventory: ServiceProcess, sku: str, timeout_s: float = 5.0) -> str:
    """GET /stock/SKU under a trace of our own (so its id is known); returns the trace id."""
    trace_id = secrets.token_hex(16)
    headers = {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    with contextlib.suppress(httpx.ReadTimeout):  # fault-slow: we hang up, inventory cancels and warns
        httpx.get(f"{inventory.url}/stock/{sku}", headers=headers, timeout=timeout_s)
    return trace_id


def _events_of_inventory_span(traces: Traces, trace_id: str, until_event: str) -> list[str]:
    trace = traces.get(trace_id, until=lambda t: any(s.event(until_event) for s in t.spans))
    return [e.name for e in trace.one(kind="server").events]


def test_warnings_logged_in_a_request_are_events_of_its_span_by_default(inventory: ServiceProcess, traces: Traces) -> None:
    trace_id = _call_inventory(inventory, "fault-slow", timeout_s=0.3)
    events = _events_of_inventory_span(traces, trace_id, "client disconnected: request cancelled")
    assert "client disconnected before the response: cancelling GET /stock/fault-slow" in events


def test_log_span_event_level_sets_the_lowest_level_copied_onto_spans(spawn: Spawn, traces: Traces) -> None:
    inventory = spawn("inventory", LOG_SPAN_EVENT_LEVEL="error")
    slow = _call_inventory(inventory, "fault-slow", timeout_s=0.3)
    events = _events_of_inventory_span(traces, slow, "client disconnected: request cancelled")
    assert not [e for e in events if e.startswith("client disconnected before the response")], events
    # The warning is still on stdout: the level filters what goes onto spans only.
    assert [line for line in inventory.logs_of(slow) if line["level"] == "warning"]

    crash = _call_inventory(inventory, "fault-crash")
    events = _events_of_inventory_span(traces, crash, "unhandled error in GET /stock/fault-crash")
    assert events.count("exception") == 1


def test_log_span_event_level_off_copies_nothing(spawn: Spawn, traces: Traces) -> None:
    inventory = spawn("inventory", LOG_SPAN_EVENT_LEVEL="off")
    crash = _call_inventory(inventory, "fault-crash")
    assert _events_of_inventory_span(traces, crash, "exception") == ["exception"]


def test_an_unknown_log_span_event_level_stops_the_service_at_start_up_with_a_clear_error(spawn: Spawn) -> None:
    with pytest.raises(RuntimeError, match=r"LOG_SPAN_EVENT_LEVEL='loud' is not a level"):
        spawn("inventory", LOG_SPAN_EVENT_LEVEL="loud")
