"""A request through two services is one trace: proven in a unit test, with no container, no Collector, no Jaeger.

Run it with ``pytest examples/in_process`` (traceproof installed).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from examples.in_process.shop import front_app, stock_app
from traceproof import Traces


def test_an_order_is_one_trace_across_both_services(exporter: InMemorySpanExporter, traces: Traces) -> None:
    front = TestClient(front_app(exporter, stock_app(exporter)))

    response = front.post("/orders/tea")
    assert response.status_code == 200

    # front: its SERVER span, two ASGI "http send" spans, the CLIENT span; stock: its SERVER span and two sends.
    trace = traces.get(response, spans=7)
    trace.assert_connected()
    call = trace.one(service="front", kind="client")
    assert trace.one(service="stock", kind="server").parent is call


def test_a_bare_client_is_caught_as_a_broken_trace(exporter: InMemorySpanExporter, traces: Traces) -> None:
    front = TestClient(front_app(exporter, stock_app(exporter), propagate=False))

    response = front.post("/orders/tea")
    assert response.status_code == 200

    # Every span has ended (and gone to the exporter) before TestClient hands back the response: no wait is needed.
    trace = traces.get(response, quiet_s=0)
    with pytest.raises(AssertionError, match="no span matches service='stock', kind='server'"):
        trace.one(service="stock", kind="server")
