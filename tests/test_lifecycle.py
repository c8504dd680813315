"""Process lifecycle: SIGTERM ends a service quickly, and the spans it still held are exported."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Spawn
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import free_port
from traceproof.traces import Traces


@pytest.mark.parametrize("module", ["inventory", "checkout"])
def test_sigterm_exits_within_10_s_even_with_the_collector_unreachable(spawn: Spawn, module: str) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    service = spawn(module, OTEL_EXPORTER_OTLP_ENDPOINT=nowhere, OTEL_BSP_SCHEDULE_DELAY="10")
    for _ in range(5):  # spans that can never be delivered, and an exporter busy retrying them
        httpx.get(f"{service.url}/no-such-page")
    assert service.terminate(timeout_s=15) < 10


@pytest.mark.parametrize("module", ["inventory", "checkout"])
def test_sigterm_after_serving_shuts_down_cleanly(spawn: Spawn, module: str) -> None:
    service = spawn(module)
    # inventory opens a database connection on each pool thread that serves a query.
    for _ in range(8):
        httpx.get(f"{service.url}/stock/item-123" if module == "inventory" else f"{service.url}/no-such-page")
    service.terminate()
    lines = service.logs()
    assert not [line for line in lines if line["level"] in ("error", "critical")]
    assert any(line["message"] == "Application shutdown complete." for line in lines)


@pytest.mark.parametrize("module", ["inventory", "checkout"])
def test_spans_still_queued_at_sigterm_are_flushed(spawn: Spawn, sink: OtlpSink, module: str) -> None:
    # A schedule delay of one minute: nothing is exported before the SIGTERM.
    service = spawn(module, OTEL_BSP_SCHEDULE_DELAY="60000", OTEL_SERVICE_NAME=f"{module}-flush")
    trace_ids = [httpx.get(f"{service.url}/no-such-page").json()["trace_id"] for _ in range(3)]
    assert not [s for s in sink.store.all() if s.trace_id in trace_ids]
    service.terminate()
    exported = {s.trace_id for s in sink.store.all() if s.service == f"{module}-flush"}
    assert exported == set(trace_ids)
    assert any("shutdown" in line["message"].lower() for line in service.logs())


def test_spans_can_be_exported_over_grpc(spawn: Spawn, sink: OtlpSink, traces: Traces) -> None:
    service = spawn(
        "inventory",
        OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT=sink.grpc_endpoint,
        OTEL_SERVICE_NAME="inventory-grpc",
    )
    response = httpx.get(f"{service.url}/stock/item-123")
    assert response.status_code == 200
    trace = traces.get(response, until=lambda t: bool(t.find(kind="server")))
    assert {s.service for s in trace.spans} == {"inventory-grpc"}


def test_with_the_sdk_disabled_nothing_is_traced_and_errors_say_so(spawn: Spawn, sink: OtlpSink) -> None:
    off = {"OTEL_SDK_DISABLED": "true"}
    inventory = spawn("inventory", OTEL_SERVICE_NAME="inventory-off", **off)
    checkout = spawn("checkout", inventory_url=inventory.url, OTEL_SERVICE_NAME="checkout-off", **off)

    ok = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123"}, timeout=10)
    assert ok.status_code == 201 and ok.json()["trace_id"] is None
    assert "traceresponse" not in ok.headers
    failed = httpx.post(f"{checkout.url}/checkout", json={"sku": "fault-crash"}, timeout=10)
    assert failed.status_code == 502
    assert failed.json()["trace_id"] is None and failed.json()["trace_url"] is None
    # inventory was not told about a trace either.
    checkout.terminate()
    inventory.terminate()
    assert not [s for s in sink.store.all() if s.service in ("inventory-off", "checkout-off")]
    assert all(line["trace_id"] is None for line in inventory.logs())


def test_a_port_that_is_not_a_number_stops_the_service_at_start_up_with_a_clear_error(spawn: Spawn) -> None:
    with pytest.raises(RuntimeError, match=r"INVENTORY_PORT='eighty' is not a port number"):
        spawn("inventory", INVENTORY_PORT="eighty")
