"""Whom the edge trusts: a caller's trace context and baggage, continued or only linked."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import Spawn
from tests.support.otlp_sink import OtlpSink
from tests.support.recording_inventory import RecordingInventory
from traceproof.traces import Traces


def caller_headers() -> tuple[str, str, dict[str, str]]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-01", "baggage": "user.id=alice,plan=free"}


def test_by_default_the_callers_trace_and_baggage_are_continued(
    spawn: Spawn, sink: OtlpSink, recording_inventory: RecordingInventory
) -> None:
    checkout = spawn("checkout", inventory_url=recording_inventory.url)
    trace_id, span_id, headers = caller_headers()
    response = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123"}, headers=headers)
    assert response.status_code == 201 and response.json()["trace_id"] == trace_id
    assert all(h["traceparent"].split("-")[1] == trace_id for h in recording_inventory.headers)
    assert all("user.id=alice" in h.get("baggage", "") for h in recording_inventory.headers)


def test_a_public_endpoint_starts_a_new_trace_linked_to_the_callers(
    spawn: Spawn, traces: Traces, recording_inventory: RecordingInventory
) -> None:
    checkout = spawn("checkout", inventory_url=recording_inventory.url, CHECKOUT_PUBLIC_ENDPOINT="true")
    caller_trace, caller_span, headers = caller_headers()
    response = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123"}, headers=headers)
    assert response.status_code == 201
    own_trace = response.json()["trace_id"]
    assert own_trace != caller_trace

    trace = traces.get(own_trace, until=lambda t: bool(t.find(kind="server")))
    server = trace.one(kind="server")
    assert server.span.parent_id is None
    assert server.span.links == [(caller_trace, caller_span)]
    # Neither the caller's trace nor its baggage travels further in.
    assert recording_inventory.headers
    for sent in recording_inventory.headers:
        assert sent["traceparent"].split("-")[1] == own_trace
        assert "baggage" not in sent
