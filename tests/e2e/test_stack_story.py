"""The trace story against the real stack: services in containers, the Collector, Jaeger.

The story tests of tests/test_trace_story.py run here unchanged: the ``traces``
fixture of traceproof's pytest plugin reads from Jaeger's API here, with the
logs from ``docker compose logs`` on failure (see conftest.py). What only the
stack can show is added below.
"""

from __future__ import annotations

import httpx

from tests.conftest import InventoryTimings
from tests.e2e.conftest import CHECKOUT_URL, ComposeService, compose
from tests.support.load import wait_until
from tests.test_trace_story import (  # noqa: F401 (collected by pytest, with this folder's fixtures)
    assert_inventory_down_story,
    test_a_checkout_is_one_trace_across_both_services,
    test_a_malformed_traceparent_starts_a_new_trace_and_the_request_succeeds,
    test_a_slow_inventory_times_out_at_the_deadline_and_stops_working,
    test_an_incoming_traceparent_is_continued,
    test_an_unknown_sku_is_a_404_from_inventory,
    test_sold_out_is_a_409_with_the_client_span_in_error,
    test_when_inventory_crashes_the_error_is_on_the_span_where_it_happened,
)
from traceproof.jaeger import JaegerClient
from traceproof.traces import Traces


def wait_ready(url: str, timeout_s: float = 60) -> None:
    wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, timeout_s, f"{url} ready")


def test_with_inventory_stopped_checkout_answers_503_and_recovers_by_itself(
    checkout: ComposeService, traces: Traces, timings: InventoryTimings
) -> None:
    compose("stop", "inventory")
    try:
        # Fast: refused at once, not waited for until checkout's deadline.
        assert assert_inventory_down_story(checkout, traces) < timings.inventory_timeout_s
    finally:
        compose("start", "inventory")
    # No restart of checkout: it is ready again as soon as inventory is.
    wait_ready(f"{CHECKOUT_URL}/readyz")
    assert httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "item-123"}, timeout=10).status_code == 201


def test_health_checks_polled_by_compose_never_reach_jaeger(checkout: ComposeService, jaeger: JaegerClient) -> None:
    # compose has polled /readyz every few seconds since the stack started.
    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "item-123"}, timeout=10)
    jaeger.wait_for(response.json()["trace_id"], lambda s: len(s) > 3)
    for service in ("checkout", "inventory"):
        operations = httpx.get(f"{jaeger.url}/api/v3/operations", params={"service": service}, timeout=5)
        operations.raise_for_status()
        names = {op["name"] for op in operations.json()["operations"]}
        assert names, f"Jaeger knows no operations of {service}"
        assert not [n for n in names if "healthz" in n or "readyz" in n], names


def test_traces_survive_a_jaeger_restart(jaeger: JaegerClient) -> None:
    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "fault-crash"}, timeout=10)
    trace_id = response.json()["trace_id"]
    before = jaeger.wait_for(trace_id, lambda s: len(s) == 3)  # the whole crash: two of checkout, one of inventory
    compose("restart", "jaeger", timeout_s=120)
    wait_ready(f"{jaeger.url}/")
    after = jaeger.wait_for(trace_id, lambda s: len(s) >= len(before))
    assert {s.span_id for s in after} == {s.span_id for s in before}
