"""harness.span_counts' wait for settled span counts, against a Prometheus whose counts move on a fake clock."""

from __future__ import annotations

import httpx
import pytest

from harness.span_counts import settled_span_calls
from tests.support.fake_clock import FakeClock
from traceproof.prometheus import CountKey, PrometheusClient, PrometheusError, SpanCounts, series_id

KEY: CountKey = ("checkout", "server", "unset")
SERIES = {"service_name": "checkout", "span_kind": "SPAN_KIND_SERVER", "status_code": "STATUS_CODE_UNSET"}


def prometheus(clock: FakeClock, counts: list[tuple[float, int]]) -> PrometheusClient:
    """A Prometheus whose count of KEY is each ``(from_s, value)``'s value from that time on."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/targets":
            target = {"scrapeUrl": "http://otel-collector:8889/metrics", "health": "down", "lastError": "timeout"}
            return httpx.Response(200, json={"status": "success", "data": {"activeTargets": [target]}})
        value = [v for t, v in counts if t <= clock.now][-1]
        vector = [{"metric": SERIES, "value": [clock.now, str(value)]}]
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": vector}})

    return PrometheusClient("http://prometheus.test:9090", transport=httpx.MockTransport(handler))


def test_a_count_late_past_the_quiet_is_missed_by_quiet_alone_and_waited_for_with_at_least(clock: FakeClock) -> None:
    late = [(0.0, 100), (20.0, 110)]  # ten spans counted 20 s on: an export retried, a scrape missed
    with prometheus(clock, late) as client:
        assert settled_span_calls(client, ("checkout",), quiet_s=12, within_s=90).totals()[KEY] == 100
        clock.now = 0.0
        assert settled_span_calls(client, ("checkout",), quiet_s=12, within_s=90, at_least={KEY: 110}).totals()[KEY] == 110
        assert clock.now >= 20 + 12, "the quiet starts once the count is reached"


def test_a_count_that_goes_past_at_least_is_returned_as_it_is(clock: FakeClock) -> None:
    counted_twice = [(0.0, 100), (5.0, 110), (10.0, 120)]
    with prometheus(clock, counted_twice) as client:
        assert settled_span_calls(client, ("checkout",), quiet_s=12, within_s=90, at_least={KEY: 110}).totals()[KEY] == 120


def test_a_count_that_never_arrives_fails_with_the_shortfall_and_the_scrapes_health(clock: FakeClock) -> None:
    with prometheus(clock, [(0.0, 100)]) as client, pytest.raises(PrometheusError) as failed:
        settled_span_calls(client, ("checkout",), quiet_s=12, within_s=90, at_least={KEY: 110})
    assert "short of what is on its way by {('checkout', 'server', 'unset'): 10}" in str(failed.value)
    assert "http://otel-collector:8889/metrics': 'down (timeout)'" in str(failed.value)
    assert 90 <= clock.now < 91


def counts(*series: tuple[str, int]) -> SpanCounts:
    """Checkout's good SERVER count in one series per Collector instance: (collector_instance_id, value)."""
    return SpanCounts({series_id({**SERIES, "collector_instance_id": i}): (KEY, v) for i, v in series})


def test_growth_is_taken_series_by_series_so_a_series_that_vanishes_takes_nothing_away() -> None:
    """The series of a Collector that Prometheus scraped before its own restart stays shown for the
    lookback after its last sample, then vanishes: the sum falls by it, though nothing was uncounted."""
    before = counts(("old", 590), ("current", 900))
    after = counts(("current", 930))
    assert sum(after.totals().values()) - sum(before.totals().values()) == -560  # what a difference of sums says
    assert after.since(before) == {KEY: 30}


def test_a_collector_started_again_counts_in_a_new_series_from_zero() -> None:
    before = counts(("old", 900))
    after = counts(("old", 950), ("new", 40))
    assert after.since(before) == {KEY: 90}
    assert after.value({**SERIES, "collector_instance_id": "new", "__name__": "traces_span_metrics_calls_total"}) == 40
