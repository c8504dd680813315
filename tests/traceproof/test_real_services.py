"""The doctor on the spans the real services export: it learns their addresses from the attributes they really write.

checkout and inventory run as processes exporting to the test's OTLP sink
(tests/conftest.py), with the stable HTTP conventions; a connected order
teaches the doctor where checkout calls from and where inventory answers,
and a call to inventory from the test itself is an entry point, not a break.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import httpx

from tests.support.otlp_sink import Span, SpanSource
from tests.support.processes import ServiceUnderTest
from tests.support.traces import select, traceresponse
from traceproof.doctor import diagnose


def whole_order(spans: list[Span]) -> bool:
    """Every span of an order has ended and arrived: both inventory calls, the request, and its background work."""
    return (
        len(select(spans, service="inventory", kind="SERVER")) == 2
        and len(select(spans, service="checkout", kind="SERVER")) == 1
        and len(select(spans, name="confirm order")) == 1
        and len(select(spans, name="render receipt")) == 1
    )


def test_a_real_order_teaches_the_address_book_and_a_direct_call_is_an_entry_point(
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, span_store: SpanSource
) -> None:
    order = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123", "quantity": 1}, timeout=10)
    assert order.status_code == 201
    order_trace = traceresponse(order).trace_id
    order_spans = span_store.wait_for(order_trace, whole_order)
    # Only now, with checkout's request over (its span has arrived, so it had ended), call inventory directly.
    direct = httpx.get(f"{inventory.url}/stock/item-123", timeout=10)
    direct_trace = traceresponse(direct).trace_id
    direct_spans = span_store.wait_for(direct_trace, lambda s: bool(select(s, kind="SERVER")))

    diagnosis = diagnose({order_trace: order_spans, direct_trace: direct_spans})

    inventory_port = urlsplit(inventory.url).port
    assert diagnosis.addresses.callers == {"127.0.0.1": Counter({"checkout": 2})}
    assert diagnosis.addresses.endpoints == {f"127.0.0.1:{inventory_port}": Counter({"inventory": 2})}
    assert diagnosis.breaks == [] and diagnosis.doubts == []
    assert diagnosis.edges[("checkout", "inventory")].connected == 1
    entries = {(e.service, e.why) for e in diagnosis.entry_points}
    assert entries == {
        ("checkout", "from an address no connected call names"),
        ("inventory", "from 127.0.0.1, where checkout calls from, while checkout served no request"),
    }
