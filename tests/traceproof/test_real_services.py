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

from tests.support.processes import ServiceUnderTest
from traceproof.doctor import diagnose
from traceproof.trace import Trace
from traceproof.traces import Traces


def whole_order(trace: Trace) -> bool:
    """Every span of an order has ended and arrived: both inventory calls, the request, and its background work."""
    return (
        len(trace.find(service="inventory", kind="server")) == 2
        and len(trace.find(service="checkout", kind="server")) == 1
        and len(trace.find(name="confirm order")) == 1
        and len(trace.find(name="render receipt")) == 1
    )


def test_a_real_order_teaches_the_address_book_and_a_direct_call_is_an_entry_point(
    checkout: ServiceUnderTest, inventory: ServiceUnderTest, traces: Traces
) -> None:
    order = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123", "quantity": 1}, timeout=10)
    assert order.status_code == 201
    order_trace = traces.get(order, until=whole_order)
    # Only now, with checkout's request over (its span has arrived, so it had ended), call inventory directly.
    direct = httpx.get(f"{inventory.url}/stock/item-123", timeout=10)
    direct_trace = traces.get(direct, until=lambda t: bool(t.find(kind="server")))

    diagnosis = diagnose({t.trace_id: [s.span for s in t.spans] for t in (order_trace, direct_trace)})

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
