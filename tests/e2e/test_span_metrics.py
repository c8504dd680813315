"""RED metrics from the spans: the Collector's spanmetrics connector, Prometheus, and Jaeger's metrics API.

A known mix of orders must grow ``traces_span_metrics_calls_total`` by exactly
the spans of those orders, counted per service, span kind and status from
their traces in Jaeger: the metrics are derived from every span, none lost
and none counted twice.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import httpx

from tests.e2e.conftest import CHECKOUT_URL, JAEGER_URL, SERVICE_NAMES, quiet_counts
from tests.support.cli import run_module
from traceproof.jaeger import JaegerClient
from traceproof.prometheus import CountKey, PrometheusClient

#: Orders by SKU: how many, the status checkout answers each with, and the spans each makes.
MIX = {"item-123": (5, 201, 13), "fault-crash": (3, 502, 3), "sold-out": (2, 409, 11)}


def test_span_metrics_count_every_span_of_a_known_mix(jaeger: JaegerClient, prometheus: PrometheusClient) -> None:
    before = quiet_counts(prometheus)
    trace_ids = []
    for sku, (count, status, spans) in MIX.items():
        for _ in range(count):
            response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": sku}, timeout=10)
            assert response.status_code == status, response.text
            trace_ids.append((response.json()["trace_id"], spans))

    # What the connector must count: every span of these orders, as Jaeger has them once whole
    # (each service's spans arrive apart, so a trace that held still for a while may still lack some).
    expected: Counter[CountKey] = Counter()
    for trace_id, spans in trace_ids:
        expected.update((s.service, s.kind, s.status) for s in jaeger.wait_for(trace_id, lambda s, n=spans: len(s) == n))
    grown = quiet_counts(prometheus, at_least=expected, since=before).since(before)
    assert grown == expected, f"grown by {dict(grown)}, the orders' spans: {dict(expected)}"
    assert expected[("inventory", "server", "error")] == MIX["fault-crash"][0]
    assert expected[("checkout", "server", "error")] == MIX["fault-crash"][0]


def test_jaeger_reads_calls_errors_and_latencies_of_both_services_from_prometheus() -> None:
    """The Monitor tab's API: /api/metrics/{calls,errors,latencies}, as the UI asks for them."""
    now_ms = int(time.time() * 1000)
    common = {"endTs": str(now_ms), "lookback": str(15 * 60_000), "step": "15000", "ratePer": "60000", "spanKind": "server"}
    for service in SERVICE_NAMES:
        for path, extra in (("calls", {}), ("errors", {}), ("latencies", {"quantile": "0.95"})):
            response = httpx.get(f"{JAEGER_URL}/api/metrics/{path}", params={"service": service, **common, **extra}, timeout=10)
            assert response.status_code == 200, response.text
            series = response.json()["metrics"]
            points = [p for m in series for p in m["metricPoints"] if "gaugeValue" in p]
            assert points, f"no {path} series for {service}: {response.text[:300]}"


def test_make_load_shows_what_prometheus_counted_beside_what_it_sent(prometheus: PrometheusClient) -> None:
    quiet_counts(prometheus)  # nothing of the tests before still on its way
    load = ("--url", CHECKOUT_URL, "--duration", "3", "--rate", "10", "--mix", "item-123=3,fault-crash=1", "--seed", "3")
    result = run_module("explore.load", *load)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    sent = int(re.search(r"^(\d+) requests sent at", out, re.M).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r"^│ 502\s+│\s+(\d+) │", out, re.M).group(1))  # type: ignore[union-attr]
    assert "what Prometheus counted of these orders (traces_span_metrics_calls_total, SERVER spans)" in out, out
    row = re.search(r"^│ checkout\s+│\s+(\d+) │\s+(\d+) │ (\d+) sent, (\d+) failed: agree", out, re.M)
    assert row, out
    assert tuple(int(v) for v in row.groups()) == (sent, failed, sent, failed)
    inventory = re.search(r"^│ inventory\s+│\s+(\d+) │\s+(\d+) │", out, re.M)
    assert inventory and int(inventory.group(2)) == failed, out  # each 502 is one crash in inventory
