"""`make trace` against the stack: the real Jaeger API, the real Collector, ``docker compose logs``."""

from __future__ import annotations

import os
import subprocess
import time

import httpx

from tests.e2e.conftest import CHECKOUT_URL, ComposeService
from tests.explore.test_trace_view import assert_crash_story
from tests.support.cli import COLUMNS
from tests.support.processes import ROOT
from traceproof.jaeger import JaegerClient


def make(*args: str) -> subprocess.CompletedProcess[str]:
    """``make`` as a person runs it, in a bare environment but for the Compose project the stack runs as."""
    project = {"COMPOSE_PROJECT_NAME": os.environ["COMPOSE_PROJECT_NAME"]} if "COMPOSE_PROJECT_NAME" in os.environ else {}
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "COLUMNS": COLUMNS, **project},
    )


def crash(jaeger: JaegerClient) -> str:
    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "fault-crash"}, timeout=10)
    assert response.status_code == 502
    trace_id = response.json()["trace_id"]
    # All 3 spans: the services export apart and the Collector's queue has two consumers, so
    # inventory's server span (or checkout's) can reach Jaeger before checkout's client span.
    jaeger.wait_for(trace_id, lambda s: len(s) == 3)
    return trace_id


def test_make_trace_tells_the_story_of_a_crash_from_jaeger_and_compose_logs(
    jaeger: JaegerClient, checkout: ComposeService, inventory: ComposeService
) -> None:
    trace_id = crash(jaeger)
    result = make("trace", f"ID={trace_id}")
    assert result.returncode == 0, result.stderr
    assert f"http://localhost:16686/trace/{trace_id}" in result.stdout
    assert "(from docker compose logs)" in result.stdout
    expected = sorted(checkout.logs_of(trace_id) + inventory.logs_of(trace_id), key=lambda r: r["time"])
    assert_crash_story(result.stdout, trace_id, expected)


def test_make_trace_last_error_finds_the_latest_failing_trace(jaeger: JaegerClient) -> None:
    crash(jaeger)
    latest = crash(jaeger)
    result = make("trace", "LAST_ERROR=1")
    assert result.returncode == 0, result.stderr
    assert f"most recent failing trace of checkout: {latest}" in result.stderr
    assert f"trace {latest}" in result.stdout


def test_v3_search_ignores_attribute_filters_so_last_error_uses_the_legacy_api(jaeger: JaegerClient) -> None:
    """Pins the reason given in traceproof.jaeger.JaegerClient.latest_failing_trace."""
    failing = crash(jaeger)
    good = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "item-123"}, timeout=10).json()["trace_id"]
    jaeger.wait_for(good, lambda s: len([x for x in s if x.kind == "server"]) == 3)

    now = time.time()
    v3_window = {
        "query.service_name": "checkout",
        "query.start_time_min": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 120)),
        "query.start_time_max": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60)),
        "query.num_traces": "1000",
    }
    by_error = httpx.get(f"{jaeger.url}/api/v3/traces", params={**v3_window, "query.attributes": '{"error":"true"}'}, timeout=10)
    assert by_error.status_code == 200
    assert failing in by_error.text and good in by_error.text  # the filter is not applied

    legacy = httpx.get(
        f"{jaeger.url}/api/traces",
        timeout=10,
        params={"service": "checkout", "tags": '{"error":"true"}', "lookback": "1h", "limit": "1000"},
    )
    assert legacy.status_code == 200
    found = {t["traceID"] for t in legacy.json()["data"]}
    assert failing in found and good not in found
