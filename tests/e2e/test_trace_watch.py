"""``traceproof watch`` in the stack (service trace-watch): judged traffic, breaks per edge, the alert.

Every wait is a poll with a deadline derived from the schedules
(tests/support/trace_watch.py, :class:`Schedule`): the watcher's (--settle,
--every, --late-after, from its command in docker-compose.yml) and
Prometheus's (scrape and evaluation intervals, the rule's range and ``for``).
The stack is shared with the other tests, some of which break traces on
purpose (the pitfalls), so each test looks only at what it sent: the series
of the services it sends to, counted over its own window, and the breaks of
its own trace ids in ``/breaks``.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from examples.pitfalls.export import exported_runs
from explore.load import DEFAULT_MIX, parse_mix
from tests.e2e.conftest import INVENTORY_URL, compose
from tests.e2e.test_pitfalls_on_the_stack import COLLECTOR_OTLP_URL, EXPECTED
from tests.support.cli import run_module
from tests.support.load import Load
from tests.support.trace_watch import (
    ALERT,
    JUDGE_S,
    PROMETHEUS_URL,
    SERVICE,
    START_S,
    Edge,
    Schedule,
    active_alerts,
    counts,
    iso_ns,
    last_window_end_ns,
    left_s,
    recent_breaks,
    schedule,
    wait_judged,
)
from traceproof.prometheus import PrometheusClient, growth
from traceproof.wait import poll
from traceproof.watch import RECENT  # what /breaks keeps: trace-watch runs with the default --recent

pytestmark = pytest.mark.e2e

#: The stack's own services, which the clean loads send to.
OURS = ("checkout", "inventory")
#: The exported pitfalls' services (examples/pitfalls/export.py: SERVICE_PREFIX).
PITFALLS = ("pitfalls-checkout", "pitfalls-inventory", "pitfalls-mailer")
#: Several minutes of the walkthrough's mix (crashes, timeouts, sold-out) at 20 orders/s.
CLEAN_LOAD_S = 180
#: Long enough for traffic before, across and after a restart (at RESTART_AT_S).
RESTART_LOAD_S = 90
RESTART_AT_S = 40


@pytest.fixture(scope="module")
def sched() -> Schedule:
    return schedule()


def edge_of(b: dict[str, object]) -> Edge:
    return (str(b["kind"]), str(b["service"]), str(b["peer"] or ""))


def prometheus_breaks(prometheus: PrometheusClient, services: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """traceproof_breaks_total as Prometheus holds it, series by series (edge and instance), for edges touching ``services``."""
    found: dict[tuple[str, ...], float] = {}
    for s in prometheus.query("traceproof_breaks_total"):
        edge = (s.labels.get("kind", ""), s.labels.get("service", ""), s.labels.get("peer", ""))
        if edge[1] in services or edge[2] in services:
            found[(*edge, s.labels.get("instance", ""))] = s.value
    return found


def grown_by_edge(now: dict[tuple[str, ...], float], then: dict[tuple[str, ...], float]) -> Counter[Edge]:
    grown: Counter[Edge] = Counter()
    for series, value in now.items():
        grown[(series[0], series[1], series[2])] += round(growth(value, then.get(series, 0.0)))
    return +grown


def alerts_over(prometheus: PrometheusClient, since_ns: int, services: tuple[str, ...]) -> list[dict[str, str]]:
    """Every TraceBreaks alert (pending or firing) on an edge touching ``services`` since ``since_ns``, from ALERTS."""
    window_s = max(1, round((time.time_ns() - since_ns) / 1e9))
    samples = prometheus.query(f'max_over_time(ALERTS{{alertname="{ALERT}"}}[{window_s}s])')
    return [s.labels for s in samples if s.labels.get("service") in services or s.labels.get("peer") in services]


def test_prometheus_scrapes_the_watcher_and_loads_the_alert(prometheus: PrometheusClient, sched: Schedule) -> None:
    def health() -> list[str]:
        return [t["health"] for t in prometheus.targets() if t["labels"].get("job") == "trace-watch"]

    seen, up = poll(health, lambda h: h == ["up"], timeout_s=2 * sched.scrape_s)
    assert up, seen
    limits = {s.labels["name"]: s.value for s in prometheus.query("traceproof_limit")}
    assert limits["max_spans"] > 0 and limits["max_held"] > 0, limits
    groups = httpx.get(f"{PROMETHEUS_URL}/api/v1/rules", timeout=5).json()["data"]["groups"]
    loaded = {r["name"]: r for g in groups if g["file"].endswith("trace-integrity.yml") for r in g["rules"]}
    assert set(loaded) == {ALERT, "TraceWatchDown", "TraceWatchRefusingSeries", "TraceWatchBehind"}, set(loaded)
    assert all(r["health"] == "ok" and r["labels"]["severity"] == "warning" for r in loaded.values()), loaded
    # The watcher is up, so the alert about it is not active.
    assert loaded["TraceWatchDown"]["state"] == "inactive", loaded["TraceWatchDown"]


def test_a_clean_load_with_calls_to_inventory_from_outside_counts_no_break_and_no_alert(
    prometheus: PrometheusClient, sched: Schedule
) -> None:
    since = time.time_ns()
    before = counts()
    direct: list[str] = []
    with Load(CLEAN_LOAD_S, parse_mix(DEFAULT_MIX), seed=11) as load:
        for offset in range(2, CLEAN_LOAD_S, 2):  # a person calling inventory from the host: an entry point, not a break
            load.at(offset)
            response = httpx.get(f"{INVENTORY_URL}/stock/item-123", timeout=10)
            assert response.status_code == 200
            direct.append(response.headers["traceresponse"].split("-")[1])
    until = time.time_ns()
    wait_judged(until, sched, late=True)  # every trace of the load judged, and its lost parents re-checked
    after = counts()

    # No break names a trace of this load. Any break counted on these edges meanwhile is of traffic from before
    # it (a test before this one; /breaks shows when each began): the counter grew by those and no more.
    recent = recent_breaks()
    ours = {r.trace_id for r in load.results if r.trace_id} | set(direct)
    assert [b for b in recent if set(b["trace_ids"]) & ours] == [], [b for b in recent if set(b["trace_ids"]) & ours][:5]
    meanwhile = [b for b in recent if iso_ns(b["judged"]) >= since and (b["service"] in OURS or b["peer"] in OURS)]
    assert all(iso_ns(b["started"]) < since for b in meanwhile), meanwhile[:5]
    assert not recent or iso_ns(recent[-1]["judged"]) < since or len(recent) < RECENT, "/breaks overflowed"
    grown = Counter({e: round(growth(n, before.breaks.get(e, 0.0))) for e, n in after.breaks_touching(OURS).items()})
    assert +grown == Counter(edge_of(b) for b in meanwhile), (grown, meanwhile[:5])
    judged = {s: growth(n, before.judged.get(s, 0.0)) for s, n in after.judged.items() if s in OURS}
    # Every order is a trace rooted at checkout, every direct call one rooted at inventory (the probes are not traced).
    assert judged.get("checkout", 0) >= len(load.results), (judged, len(load.results))
    assert judged.get("inventory", 0) >= len(direct), (judged, len(direct))
    # No alert on these edges was pending or firing (unless for such earlier traffic).
    if not meanwhile:
        assert alerts_over(prometheus, since, OURS) == []
        assert active_alerts(OURS) == {}


def test_each_broken_pitfall_is_counted_under_its_edge_fires_the_alert_and_the_fixed_runs_add_nothing(
    prometheus: PrometheusClient, sched: Schedule
) -> None:
    # What came before (the pitfalls' own e2e test sends the same edges): counted, in Prometheus, its alerts over.
    t0 = time.time_ns()
    wait_judged(t0, sched, late=False)
    _, caught_up = poll(
        lambda: {k[:3]: v for k, v in prometheus_breaks(prometheus, PITFALLS).items()},
        lambda seen: all(seen.get(e, 0.0) >= n for e, n in counts().breaks_touching(PITFALLS).items()),
        timeout_s=2 * sched.scrape_s,
    )
    assert caught_up, "Prometheus does not show the watcher's pitfall breaks"

    def still_alerting() -> list[object]:
        expr = [s for s in prometheus.query(sched.expr) if s.labels.get("service") in PITFALLS]
        return [*expr, *active_alerts(PITFALLS).items()]

    _, quiet = poll(still_alerting, lambda a: not a, timeout_s=sched.quiet_s + sched.evaluation_s + sched.for_s)
    assert quiet, still_alerting()
    before = prometheus_breaks(prometheus, PITFALLS)

    result = run_module(
        "examples.pitfalls",
        timeout_s=300,
        PITFALLS_EXPORT="1",
        OTEL_EXPORTER_OTLP_ENDPOINT=COLLECTOR_OTLP_URL,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
    )
    sent = time.time_ns()  # every span of every run started before this
    assert result.returncode == 0, result.stdout + result.stderr
    runs = exported_runs(result.stdout)
    assert [run.label for run in runs] == list(EXPECTED)
    broken = {run.label: run for run in runs if EXPECTED[run.label] is not None}
    unbroken = [run for run in runs if EXPECTED[run.label] is None]
    expected_edges = Counter((k, s, p or "") for k, s, p in (EXPECTED[label] for label in broken))  # type: ignore[misc]

    # /breaks: each broken run's piece, under its kind, service and peer, within the watcher's bound.
    def named() -> dict[str, list[Edge]]:
        recent = recent_breaks()
        return {label: [edge_of(b) for b in recent if b["trace_ids"][0] in run.trace_ids] for label, run in broken.items()}

    found, done = poll(named, lambda f: all(f.values()), timeout_s=left_s(sent, sched.counted_s), interval_s=1.0)
    assert done, f"not in /breaks within {sched.counted_s:.0f} s of the runs: {found}"
    for label, edges in found.items():
        kind, service, peer = EXPECTED[label]  # type: ignore[misc]
        assert edges == [(kind, service, peer or "")], (label, edges)

    # traceproof_breaks_total in Prometheus: each edge grew by its broken runs, within the bound plus a scrape.
    grown, done = poll(
        lambda: grown_by_edge(prometheus_breaks(prometheus, PITFALLS), before),
        lambda g: all(g[e] >= n for e, n in expected_edges.items()),
        timeout_s=left_s(sent, sched.in_prometheus_s),
        interval_s=1.0,
    )
    assert done, f"not in Prometheus within {sched.in_prometheus_s:.0f} s: {grown} (expected {expected_edges})"

    # The alert, per edge: pending, then firing.
    states: dict[Edge, list[str]] = {e: [] for e in expected_edges}

    def seen_states() -> dict[Edge, list[str]]:
        for edge, state in active_alerts(PITFALLS).items():
            if edge in states and (not states[edge] or states[edge][-1] != state):
                states[edge].append(state)
        return states

    _, fired = poll(
        seen_states, lambda s: all("firing" in v for v in s.values()), timeout_s=left_s(sent, sched.firing_s), interval_s=1.0
    )
    assert fired, f"{ALERT} not firing within {sched.firing_s:.0f} s of the runs: {states}"
    for edge, seen in states.items():
        assert seen[:2] == ["pending", "firing"], (edge, seen)

    # The fixed runs (and the one whose task merely outlives the request) add nothing: no break names their
    # traces, and no edge but the broken runs' grew, by no more than the broken runs.
    wait_judged(sent, sched, late=True)
    recent = recent_breaks()
    for run in unbroken:
        assert not [b for b in recent if set(b["trace_ids"]) & set(run.trace_ids)], run.label
    grown, same = poll(
        lambda: grown_by_edge(prometheus_breaks(prometheus, PITFALLS), before),
        lambda g: dict(g) == dict(expected_edges),
        timeout_s=2 * sched.scrape_s,
    )
    assert same, f"grown {dict(grown)}, expected {dict(expected_edges)}"


def test_a_restarted_watcher_goes_on_counting_judges_nothing_twice_and_counts_no_break(sched: Schedule) -> None:
    wait_judged(time.time_ns(), sched, late=True)  # what came before is in the counts below
    before = counts()
    with Load(RESTART_LOAD_S, parse_mix(DEFAULT_MIX), seed=13) as load:
        load.at(RESTART_AT_S)
        old = counts()  # the old process's last word (a tick may still fall between this and the stop)
        compose("restart", SERVICE, timeout_s=60)
        restarted = time.time_ns()
        restarted_at_s = load.now()  # an order started from here on is the new process's (it starts at its start - settle)
        _, up = poll(last_window_end_ns, lambda end: end is not None, timeout_s=START_S + sched.every_s + JUDGE_S)
        assert up, "trace-watch did not judge a window after its restart"
    until = time.time_ns()
    wait_judged(until, sched, late=True)
    new = counts()  # the new process's counters, from zero (a reset, as Prometheus sees it)

    # No break on these edges, before the restart or after it.
    assert old.breaks_touching(OURS) == before.breaks_touching(OURS), (before.breaks, old.breaks)
    assert new.breaks_touching(OURS) == {}, [b for b in recent_breaks() if b["service"] in OURS][:5]
    # The counts go on after the restart, and no trace is judged by both processes: together they judged
    # no more checkout traces than the load made (the new one starts at its start - settle, past the old one's last).
    judged_old = growth(old.judged.get("checkout", 0.0), before.judged.get("checkout", 0.0))
    judged_new = new.judged.get("checkout", 0.0)
    after_restart = len(load.between(restarted_at_s, RESTART_LOAD_S + 1))
    assert judged_new >= after_restart > 0, (judged_new, after_restart)
    assert judged_old + judged_new <= len(load.results), (judged_old, judged_new, len(load.results))
    assert restarted < until
