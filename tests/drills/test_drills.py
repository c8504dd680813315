"""Break one part of the stack under steady load; nothing the stack promises (docs/reliability.md) may give.

Load comes from explore.load (the generator behind ``make load``), run in a
thread while the drill stops, restarts or slows a container on a schedule.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from explore.load import Result
from harness.containers import memory_mb, process_memory_mb
from harness.span_counts import stored
from shoptrace.telemetry import DEFAULT_SPAN_BUFFER_MB
from tests.conftest import InventoryTimings
from tests.e2e.conftest import CHECKOUT_URL, INVENTORY_URL, JAEGER_URL, SERVICE_NAMES, compose, quiet_counts
from tests.support.doctor import doctor
from tests.support.load import RATE, Load, wait_until
from tests.support.trace_watch import counts as watch_counts
from tests.support.trace_watch import recent_breaks, wait_judged
from tests.support.trace_watch import schedule as watch_schedule
from traceproof.jaeger import JaegerClient, TraceNotFound, settled
from traceproof.prometheus import CountKey, PrometheusClient
from traceproof.wait import poll


def p(results: list[Result], q: int) -> float:
    latencies = sorted(r.latency_s for r in results)
    return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] if len(latencies) > 1 else latencies[0]


def spans_per_order(jaeger: JaegerClient) -> int:
    """How many spans one good order makes, read from a fresh trace in Jaeger once it has held still for 3 s.

    The confirmation runs after the reply, so its spans come a batch later.
    """
    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "item-123"}, timeout=10)
    return len(jaeger.wait_for(response.json()["trace_id"], settled(3.0)))


def spans_in_jaeger(jaeger: JaegerClient, trace_id: str) -> int:
    try:
        return len(jaeger.trace(trace_id))
    except TraceNotFound:
        return 0


def missing_spans(jaeger: JaegerClient, results: list[Result], expected: int, within_s: float = 30.0) -> int:
    """The spans these orders' traces still lack once every one is whole, or after ``within_s``.

    A span late on its way (a retry, a queue draining) is waited for, not counted
    as lost; only what is still missing at the end is.
    """
    pending = {r.trace_id for r in results if r.trace_id}

    def still_short() -> dict[str, int]:
        nonlocal pending
        short = {t: expected - n for t in pending if (n := spans_in_jaeger(jaeger, t)) < expected}
        pending = set(short)
        return short

    short, _ = poll(still_short, lambda short: not short, timeout_s=within_s, interval_s=1.0)
    return sum(short.values())


def ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=2).status_code == 200


def with_30_s_outage(service: str, duration_s: float) -> Load:
    """Steady load for ``duration_s`` with the stack's ``service`` stopped from 10 s to 40 s."""
    with Load(duration_s=duration_s) as load:
        load.at(10)
        compose("stop", service)
        load.at(40)
        compose("start", service)
    return load


#: The least an order would wait if it waited on a failing export: the OTLP exporter
#: (opentelemetry-exporter-otlp-proto-http 1.45, exporter/otlp/common/http.py) retries a
#: refused batch after backoffs of 1, 2 and 4 s, each cut by up to 20 % jitter, and gives
#: up only when the next backoff would pass its 10 s timeout: 0.8 + 1.6 + 3.2 = 5.6 s.
EXPORT_BLOCKED_S = 0.8 + 1.6 + 3.2


#: The span buffer's budget in each service (shoptrace.telemetry.DEFAULT_SPAN_BUFFER_MB): what
#: holding an outage's spans may add to a service's memory.
SPAN_BUFFER_MB = DEFAULT_SPAN_BUFFER_MB
#: After the Collector is back, every trace must be whole in Jaeger within this.
WHOLE_WITHIN_S = 60.0
#: A span buffer that a 30 s outage overflows many times (512 spans at 4 KB; inventory makes 160 a second).
SMALL_BUFFER_MB = "2"
#: How long after the Collector's start the services send again: within a try of the OTLP
#: exporter (its retries back off 1, 2, 4 s) or the buffer's backoff (5 s at most) after the
#: Collector answers, which it does within seconds of its start.
RESUMED_WITHIN_S = 20
#: Load on freshly started services before an outage, so that what they grow by while
#: warming up (their first seconds of requests) is over before it: a service's own memory
#: held still from 20 s into the load on, in runs of `make up` here.
WARM_UP_S = 30


def measure_memory(memory: dict[str, dict[str, float]], point: str) -> None:
    """Each service's memory now as ``point``: its container's (``docker stats``) and its process's own."""
    for name in SERVICE_NAMES:
        memory[name][point] = memory_mb(name)
        memory[name][f"{point}_process"] = process_memory_mb(name)


def test_collector_down_for_30_s_costs_no_span_and_no_request(jaeger: JaegerClient, record: dict[str, Any]) -> None:
    expected = spans_per_order(jaeger)
    since = time.time_ns()
    watched = watch_counts()  # trace-watch's, before (tests/e2e/test_trace_watch.py)
    memory: dict[str, dict[str, float]] = {name: {} for name in SERVICE_NAMES}
    with Load(duration_s=55) as load:
        load.at(9)
        measure_memory(memory, "before")
        load.at(10)
        compose("stop", "otel-collector")
        load.at(39)
        measure_memory(memory, "end_of_outage")  # with the spans of 29 s of outage held
        load.at(40)
        compose("start", "otel-collector")
        back = time.monotonic()
    before, during = load.between(0, 10), load.between(10, 40)

    # Every order answered as usual, and none waited on the exporter: one that did would
    # wait out the exporter's retries, EXPORT_BLOCKED_S at the least. How fast the others
    # were is this machine's business: the percentiles are reported, not asserted.
    assert {r.outcome for r in load.results} == {201}
    slowest = max(r.latency_s for r in during)
    assert slowest < EXPORT_BLOCKED_S, f"an order took {slowest:.2f} s while the Collector was down"
    # The services held the outage's spans within their budget, and sent them all once it was back.
    for name, mb in memory.items():
        assert mb["end_of_outage"] - mb["before"] < SPAN_BUFFER_MB, (name, mb)
    lost = missing_spans(jaeger, load.results, expected, within_s=WHOLE_WITHIN_S - (time.monotonic() - back))
    assert lost == 0, f"{lost} spans of {expected * len(load.results)} never reached Jaeger"
    # The doctor finds nothing: no span lost, no break.
    status, report = doctor(since, time.time_ns(), "--wait", "0s")
    assert report["breaks"] == [] and status == 0, json.dumps(report["breaks"], indent=1)[:3000]
    # Nor does the watcher, once it has judged the drill's last traces and re-checked their late parents.
    wait_judged(time.time_ns(), watch_schedule(), late=True)
    assert watch_counts().breaks_touching(SERVICE_NAMES) == watched.breaks_touching(SERVICE_NAMES), recent_breaks()[:3]
    record["collector_down_30s"] = {
        "orders": len(load.results),
        "p50_before_ms": round(p(before, 50) * 1000, 1),
        "p99_before_ms": round(p(before, 99) * 1000, 1),
        "p50_during_ms": round(p(during, 50) * 1000, 1),
        "p99_during_ms": round(p(during, 99) * 1000, 1),
        "max_during_ms": round(slowest * 1000, 1),
        "spans_made_while_down": expected * len(during),
        "spans_lost": lost,
        "whole_in_jaeger_after_restart_s": round(time.monotonic() - back, 1),
        "memory_mb": {name: {k: round(v, 1) for k, v in mb.items()} for name, mb in memory.items()},
        "span_buffer_mb": SPAN_BUFFER_MB,
    }


def test_jaeger_down_for_60_s_with_the_collector_restarted_meanwhile_loses_no_span(
    jaeger: JaegerClient, record: dict[str, Any]
) -> None:
    """The Collector's sending queue is on a volume: what it accepted while Jaeger was away outlives its restart."""
    expected = spans_per_order(jaeger)
    with Load(duration_s=80) as load:
        load.at(10)
        compose("stop", "jaeger")
        load.at(40)
        compose("restart", "otel-collector")  # with 30 s of spans in its queue and Jaeger still away
        load.at(70)
        compose("start", "jaeger")
        back = time.monotonic()
    assert {r.outcome for r in load.results} == {201}
    wait_until(lambda: httpx.get(f"{jaeger.url}/", timeout=2).status_code == 200, 60, "Jaeger back")
    lost = missing_spans(jaeger, load.results, expected, within_s=WHOLE_WITHIN_S)
    assert lost == 0, f"{lost} spans of {expected * len(load.results)} never reached Jaeger"
    record["jaeger_down_60s_collector_restarted"] = {
        "orders": len(load.results),
        "spans_made_while_jaeger_down": expected * len(load.between(10, 70)),
        "spans_lost": lost,
        "whole_in_jaeger_after_its_start_s": round(time.monotonic() - back, 1),
    }


def test_collector_down_past_the_span_buffer_drops_the_oldest_counted_and_keeps_answering(
    jaeger: JaegerClient, record: dict[str, Any]
) -> None:
    """With a span buffer of SMALL_BUFFER_MB, a 30 s outage overflows it: what goes is counted, said once, and not held."""
    expected = spans_per_order(jaeger)
    compose("up", "--wait", "checkout", "inventory", env={"SPAN_BUFFER_MB": SMALL_BUFFER_MB})
    try:
        memory: dict[str, dict[str, float]] = {name: {} for name in SERVICE_NAMES}
        outage = WARM_UP_S  # the Collector is stopped from here for 30 s
        with Load(duration_s=outage + 60) as load:
            load.at(outage - 1)
            measure_memory(memory, "before")
            load.at(outage)
            compose("stop", "otel-collector")
            load.at(outage + 12)  # the buffers have been full for seconds, and tries have failed and been freed
            measure_memory(memory, "mid_outage")
            load.at(outage + 29)
            measure_memory(memory, "end_of_outage")
            load.at(outage + 30)
            compose("start", "otel-collector")
        assert {r.outcome for r in load.results} == {201}
        slowest = max(r.latency_s for r in load.between(outage, outage + 30))
        assert slowest < EXPORT_BLOCKED_S, f"an order took {slowest:.2f} s while the Collector was down"
        # Once the buffers are full, a service's own memory holds still: what is dropped is
        # freed. Had the dropped spans stayed (as a failed try's garbage once kept them, until
        # Python's next full collection), a service would grow by what it makes: checkout 100
        # spans/s, at 3.2 KB a span 5.4 MB over these 17 s; inventory more. Less than the budget
        # is allowed. (The container's figure also counts inventory's database pages in the page
        # cache, which grow with its orders: recorded, not asserted.)
        for name, mb in memory.items():
            assert mb["end_of_outage_process"] - mb["mid_outage_process"] < float(SMALL_BUFFER_MB), (name, mb)
        # Sending has resumed RESUMED_WITHIN_S after the start: the orders after it arrive whole.
        # Each service exports in order, so what is missing of the earlier ones now is lost, not late.
        resumed = outage + 30 + RESUMED_WITHIN_S
        assert missing_spans(jaeger, load.between(resumed, outage + 60), expected, within_s=WHOLE_WITHIN_S) == 0
        lost = missing_spans(jaeger, load.results, expected, within_s=0)
        # Each service said once, when sending resumed, how many spans it dropped; those are
        # every span lost.
        dropped = {}
        for name in SERVICE_NAMES:
            lines = compose("logs", "--no-log-prefix", name).splitlines()
            said = [line for line in lines if "spans were dropped meanwhile" in line]
            assert len(said) == 1, (name, said)
            dropped[name] = int(json.loads(said[0])["message"].split("; ")[1].split(" ")[0])
        assert all(dropped.values()) and lost == sum(dropped.values()), (lost, dropped)
    finally:
        compose("up", "--wait", "checkout", "inventory")  # the default budget again
    record["collector_down_30s_past_a_small_buffer"] = {
        "span_buffer_mb": float(SMALL_BUFFER_MB),
        "orders": len(load.results),
        "spans_dropped_and_said": dropped,
        "spans_lost": lost,
        "memory_mb": {name: {k: round(v, 1) for k, v in mb.items()} for name, mb in memory.items()},
    }


def test_jaeger_restart_loses_no_span(jaeger: JaegerClient, record: dict[str, Any]) -> None:
    expected = spans_per_order(jaeger)
    with Load(duration_s=40) as load:
        load.at(10)
        took = time.monotonic()
        compose("restart", "jaeger", timeout_s=120)
        took = time.monotonic() - took
    assert {r.outcome for r in load.results} == {201}
    wait_until(lambda: httpx.get(f"{jaeger.url}/", timeout=2).status_code == 200, 60, "Jaeger back")
    lost = missing_spans(jaeger, load.results, expected)  # waits out the Collector's retries and queue
    assert lost == 0
    record["jaeger_restart"] = {"orders": len(load.results), "restart_s": round(took, 1), "spans_lost": lost}


CHECKOUT_CALLS = (
    'traces_span_metrics_calls_total{service_name="checkout", span_kind="SPAN_KIND_SERVER", status_code="STATUS_CODE_UNSET"}'
)


GOOD_CHECKOUT_SERVER: CountKey = ("checkout", "server", "unset")
#: The spanmetrics connector's flush interval (collector/config.yaml, metrics_flush_interval).
FLUSH_S = 5.0
#: How long a span may take from its order's answer to the connector: the SDK's batch delay
#: (shoptrace.telemetry, 200 ms) and the Collector's batch timeout (200 ms), with room for a batch each.
BATCHING_S = 1.0


def _grew_since(samples: list[tuple[float, float]], since: float) -> bool:
    """Whether a series' stored samples grew from ``since`` on: it counted, not a stale series at its last value."""
    values = [v for t, v in samples if t >= since]
    return len(values) > 1 and values[-1] > values[0]


def test_prometheus_down_for_30_s_costs_neither_requests_nor_spans_nor_counts(
    jaeger: JaegerClient, prometheus: PrometheusClient, record: dict[str, Any]
) -> None:
    """Prometheus pulls: while it is down nothing waits on it, and the Collector's counters keep counting.

    What the gap costs is resolution: no sample is stored for it, so a rate over
    the gap is the average across it; the next scrape has the whole count.
    """
    expected = spans_per_order(jaeger)
    before = quiet_counts(prometheus)
    load_started = time.time()
    load = with_30_s_outage("prometheus", duration_s=50)
    assert {r.outcome for r in load.results} == {201}
    wait_until(lambda: httpx.get(f"{prometheus.url}/-/ready", timeout=2).status_code == 200, 60, "Prometheus back")
    counted = quiet_counts(prometheus, {GOOD_CHECKOUT_SERVER: len(load.results)}, since=before).since(before)[
        GOOD_CHECKOUT_SERVER
    ]
    # The series that counted this load (a service restarted by an earlier drill leaves one at its last value).
    ((_, samples),) = [s for s in stored(prometheus, CHECKOUT_CALLS, window_s=120) if _grew_since(s[1], load_started)]
    gaps = [later - earlier for (earlier, _), (later, _) in zip(samples, samples[1:], strict=False)]
    lost = missing_spans(jaeger, load.results, expected)
    assert lost == 0
    assert counted == len(load.results), f"{len(load.results)} orders, {counted} counted"
    assert max(gaps) >= 25, f"no gap in the stored samples while Prometheus was down: {gaps}"
    record["prometheus_down_30s"] = {
        "orders": len(load.results),
        "spans_lost": lost,
        "orders_counted_after": counted,
        "longest_gap_between_samples_s": round(max(gaps), 1),
    }


def test_collector_restart_starts_the_counters_again_and_the_rates_stay_right(
    prometheus: PrometheusClient, record: dict[str, Any]
) -> None:
    """The counters live in the Collector: one that starts again counts from zero, in new series.

    The connector labels its series with ``collector_instance_id``, new at each
    start, so Prometheus sees the old series end and new ones begin (not a reset
    of the old); a rate summed over both stays the load's rate.
    """
    before = quiet_counts(prometheus)
    load_started = time.time()
    with Load(duration_s=90) as load:
        load.at(25)
        restarted = time.time()
        compose("restart", "otel-collector")
        restart_done = time.time()  # the old Collector had stopped by now
    load_ended = load_started + 90
    assert {r.outcome for r in load.results} == {201}
    after = quiet_counts(prometheus)
    # The series of the load's time: the old Collector's (it counted the first 25 s) and the new one's.
    samples = stored(prometheus, CHECKOUT_CALLS, window_s=time.time() - load_started + 10)
    # Series that counted during the load; a service restarted before it (a new
    # service.instance.id) leaves a series that the Collector keeps at its last value.
    series = sorted(
        (s for s in samples if s[1][-1][0] >= load_started and _grew_since(s[1], load_started)), key=lambda s: s[1][0][0]
    )
    assert len(series) == 2, f"expected the old Collector's series and the new one's: {[labels for labels, _ in series]}"
    (old_labels, old), (new_labels, new) = series
    assert old_labels["collector_instance_id"] != new_labels["collector_instance_id"]
    assert new[0][1] < old[-1][1] and new[-1][1] == after.value(new_labels), (old[-3:], new[:3], after.value(new_labels))
    # What both Collectors counted: the old one up to its last scrape, the new one from zero.
    counted = (old[-1][1] - before.value(old_labels)) + new[-1][1]
    # What the restart costs the counts: only what the old Collector counted after its last
    # scrape, the orders since the flush before it (the connector flushes every FLUSH_S). No
    # order goes uncounted for want of a Collector: the services keep spans until one answers.
    last_scrape = old[-1][0]
    counts_lost = len(load.results) - round(counted)
    may_lose = round((restart_done - last_scrape + FLUSH_S + BATCHING_S) * RATE)
    assert 0 <= counts_lost <= may_lose, (counts_lost, may_lose)

    # The Monitor tab's request rate of checkout, as the UI asks for it, over 30 s windows.
    window_s = 30
    params = {"service": "checkout", "endTs": str(int(load_ended * 1000)), "lookback": "90000", "step": "5000"}
    response = httpx.get(
        f"{JAEGER_URL}/api/metrics/calls", params={**params, "ratePer": str(window_s * 1000), "spanKind": "server"}, timeout=10
    )
    response.raise_for_status()
    rates = {
        datetime.fromisoformat(p["timestamp"]).timestamp(): p["gaugeValue"]["doubleValue"]
        for m in response.json()["metrics"]
        for p in m["metricPoints"]
        if "gaugeValue" in p
    }
    # How far a true rate reads off in one window: the counter moves in steps, as the
    # connector flushes every 5 s (100 orders at 20/s), and Prometheus samples it every 5 s,
    # so the first and last samples of a 30 s window, 25 s apart, hold 5 flushes, or 4 or 6
    # when flush and scrape fall in step: RATE +-20 %; a flush or a scrape late under load
    # moves one more: +-40 %. A doubled rate (a new series read as a raw counter, or both
    # Collectors' counts added twice) is +100 %, so +50 % tells the two apart.
    quantum = 0.5 * RATE
    # Windows wholly inside the load: never negative, never doubled. Those that hold the
    # restart dip by what it cost (counts the old Collector made after its last scrape, the
    # new series' first count, which rate() has no earlier sample to take from, and any
    # scrape that came late), down to 0; once the windows are past it, the load's rate.
    inside = {t: r for t, r in rates.items() if load_started + window_s + 2 <= t <= load_ended - 2}
    past = [r for t, r in inside.items() if t >= restarted + window_s + 10]
    assert inside and all(0 <= r <= RATE + quantum for r in inside.values()), rates
    assert past and all(RATE - quantum <= r <= RATE + quantum for r in past), (past, rates)
    record["collector_restart"] = {
        "orders": len(load.results),
        "orders_counted": round(counted),
        "counts_lost_at_restart": counts_lost,
        "counts_the_design_may_lose": may_lose,
        "last_scrape_before_restart_s": round(restarted - last_scrape, 1),
        "restart_took_s": round(restart_done - restarted, 1),
        "collector_instance_ids": len(series),
        "checkout_rate_per_s_lowest_while_restart_in_window": round(min(inside.values()), 1),
        "checkout_rate_per_s_after": [round(min(past), 1), round(max(past), 1)],
    }


def test_inventory_down_is_fast_503s_then_recovery_by_itself(timings: InventoryTimings, record: dict[str, Any]) -> None:
    with Load(duration_s=40) as load:
        load.at(10)
        stopping = time.monotonic() - load.started
        compose("stop", "inventory")  # SIGTERM; returns once the container has exited
        stopped = time.monotonic() - load.started
        assert not ready(CHECKOUT_URL)
        load.at(25)
        compose("start", "inventory")
        recovered_s = wait_until(lambda: ready(CHECKOUT_URL), 30, "checkout ready again")
    # While inventory shuts down, a call may still reach it and wait out its deadline (504);
    # once it is gone, every order is a fast 503 with its trace link.
    shutting_down = load.between(stopping, stopped)
    gap = load.between(stopped, 25)
    assert gap and {r.outcome for r in gap} == {503}, Counter(r.outcome for r in gap)
    # Fast: refused at once, never waiting out checkout's deadline (that would be a 504).
    assert max(r.latency_s for r in gap) < timings.inventory_timeout_s
    assert all(r.trace_url for r in gap)
    assert {r.outcome for r in shutting_down} <= {201, 503, 504}
    assert {r.outcome for r in load.between(0, stopping)} == {201}
    assert load.between(35, 40) and {r.outcome for r in load.between(35, 40)} == {201}
    record["inventory_down_15s"] = {
        "answered_503": len(gap),
        "max_503_latency_ms": round(max(r.latency_s for r in gap) * 1000, 1),
        "while_shutting_down": Counter(str(r.outcome) for r in shutting_down),
        "shutdown_s": round(stopped - stopping, 1),
        "ready_again_after_start_s": round(recovered_s, 1),
    }


def test_sigterm_under_load_finishes_what_is_in_flight(
    jaeger: JaegerClient, timings: InventoryTimings, record: dict[str, Any]
) -> None:
    expected = spans_per_order(jaeger)
    # Slow orders (each held for checkout's budget) make sure some are in flight at the SIGTERM.
    with Load(duration_s=30, mix={"item-123": 4.0, "fault-slow": 1.0}) as load:
        load.at(10)
        stopped_at = time.monotonic() - load.started
        compose("stop", "checkout")  # SIGTERM; uvicorn stops accepting and finishes what it has
        compose("start", "checkout")
        wait_until(lambda: ready(CHECKOUT_URL), 60, "checkout back")
    # A slow order sent within checkout's budget before the SIGTERM was still in flight (or had
    # just been answered, 504 too). Seed 7's mix never goes 25 orders without a slow one, and
    # the budget holds 40 orders at 20/s.
    in_flight = [r for r in load.between(stopped_at - timings.inventory_timeout_s, stopped_at) if r.sku == "fault-slow"]
    assert in_flight, "no slow order was in flight at the SIGTERM"
    assert {r.outcome for r in in_flight} == {504}, [r.outcome for r in in_flight]
    answered = [r for r in load.results if r.outcome == 201]
    refused = [r for r in load.results if not isinstance(r.outcome, int)]
    # Not answered: refused while checkout was down (ConnectError), or sent on an idle
    # keep-alive connection just as the stopping server closed it (ReadError): never read,
    # so never started. Every order that was started was answered, with its whole trace.
    assert {r.outcome for r in refused} <= {"ConnectError", "ReadError", "RemoteProtocolError"}
    assert missing_spans(jaeger, answered, expected) == 0
    record["checkout_sigterm"] = {
        "answered": len(answered),
        "slow_in_flight_at_sigterm_answered": len(in_flight),
        "refused_while_down": Counter(str(r.outcome) for r in refused),
    }


def test_a_slow_inventory_piles_up_nothing(timings: InventoryTimings, record: dict[str, Any]) -> None:
    samples: list[dict[str, int]] = []
    with Load(duration_s=120, mix={"item-123": 1.0, "fault-slow": 1.0}, rate=10) as load:
        for offset in range(10, 121, 10):
            load.at(offset)
            samples.append(
                {
                    "checkout_tasks": httpx.get(f"{CHECKOUT_URL}/healthz").json()["tasks"],
                    "inventory_tasks": httpx.get(f"{INVENTORY_URL}/healthz").json()["tasks"],
                    "connections": open_connections_to_inventory(),
                }
            )
    slow = [r for r in load.results if r.sku == "fault-slow"]
    assert {r.outcome for r in slow} == {504}
    # Each answered at checkout's deadline, never after inventory's slow reply: checkout waits
    # for its budget (INVENTORY_TIMEOUT_S) and no longer (INVENTORY_SLOW_S would be a pile-up).
    latencies = [r.latency_s for r in slow]
    assert timings.inventory_timeout_s <= min(latencies) and max(latencies) < timings.inventory_slow_s, latencies
    # Steady state, not growth: the last minute holds no more than the first.
    first, last = samples[: len(samples) // 2], samples[len(samples) // 2 :]
    for key in ("checkout_tasks", "inventory_tasks", "connections"):
        assert max(s[key] for s in last) <= max(s[key] for s in first) + 5, (key, samples)
    record["slow_inventory_2min"] = {"orders": len(load.results), "samples_every_10s": samples}


def open_connections_to_inventory() -> int:
    """Established TCP connections from checkout's container to inventory's port (8081 = 0x1F91)."""
    script = (
        "print(sum(1 for line in open('/proc/net/tcp').readlines()[1:] "
        "if line.split()[2].endswith(':1F91') and line.split()[3] == '01'))"
    )
    return int(compose("exec", "-T", "checkout", "python", "-c", script).strip())
