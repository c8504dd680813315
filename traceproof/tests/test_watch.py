"""``traceproof watch``'s loop, driven tick by tick on a fake clock: what it counts, once each, and what it holds.

Every window is judged by :meth:`Watcher.tick` with the clock where the test
put it; nothing sleeps, nothing depends on how fast the machine is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from builder import CHECKOUT_ADDRESS, Window, ns
from traceproof.errors import SourceError, WindowTooLarge
from traceproof.jaeger import JaegerUnreachable
from traceproof.sources import MemorySource
from traceproof.spans import Span
from traceproof.watch import Settings, Watcher
from traceproof.watch_metrics import WatchMetrics
from traceproof.window import Window as SourceWindow

SETTINGS = Settings(every_s=10, settle_s=30, late_after_s=60, context_s=10)


class Clock:
    """Nanoseconds since the epoch, moved only by the test (or by the watcher's ``sleep``)."""

    def __init__(self, at_ns: int) -> None:
        self.at_ns = at_ns

    def __call__(self) -> int:
        return self.at_ns

    def sleep(self, seconds: float) -> None:
        self.at_ns += round(seconds * 1e9)


class Shop:
    """A watcher over spans the test can add to (as late spans arrive), its clock set so the first window starts at 0 ms."""

    def __init__(self, w: Window, settings: Settings = SETTINGS, max_series: int = 1000, start_ms: float = 0) -> None:
        self.w = w
        self.visible: list[Span] = list(w.spans)
        self.source = MemorySource(lambda: list(self.visible))
        self.clock = Clock(ns(start_ms) + round(settings.settle_s * 1e9))
        self.metrics = WatchMetrics(max_series)
        self.watcher = Watcher(self.source, self.metrics, settings, self.clock)

    def ticks(self, count: int = 1) -> None:
        """``count`` ticks, ``every_s`` apart."""
        for _ in range(count):
            self.clock.sleep(self.watcher.settings.every_s)
            self.watcher.tick()

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_clean_window_counts_its_traces_by_root_service_and_no_break() -> None:
    w = Window()
    for at in (1000, 2000, 12_000):
        w.order(at)
    shop = Shop(w)

    shop.ticks(1)  # [0 s, 10 s)
    assert shop.value("traceproof_traces_judged_total", service="checkout") == 2
    shop.ticks(1)  # [10 s, 20 s)
    assert shop.value("traceproof_traces_judged_total", service="checkout") == 3
    assert shop.value("traceproof_traces_judged_total", service="inventory") == 0  # inventory's spans are in checkout's traces
    assert shop.value("traceproof_windows_judged_total") == 2
    assert shop.metrics.registry.get_sample_value("traceproof_breaks_total", {"kind": "not_propagated"}) is None
    assert shop.value("traceproof_lag_seconds") == 30  # settle: the fake clock stands still while judging
    assert shop.value("traceproof_spans_held_peak") == len(w.spans)
    assert shop.watcher.recent() == []


@pytest.mark.parametrize("every_s", [0.003, 0.01, 10])
def test_a_broken_call_counts_once_under_its_kind_service_and_peer_however_the_windows_fall(every_s: float) -> None:
    w = Window()
    w.order(0)  # connected: where checkout calls from
    order = w.order(200, stock_call="not_propagated")  # checkout's trace 200-300 ms; inventory's root 212-228 ms
    (piece,) = [s for s in w.spans if s.service == "inventory" and s.parent_id is None]
    shop = Shop(w, Settings(every_s=every_s, settle_s=30, late_after_s=60, context_s=10))

    shop.ticks(round(20 / every_s))  # windows of 3 ms cut both traces in several; 10 ms ones put them in different windows

    assert shop.value("traceproof_breaks_total", kind="not_propagated", service="checkout", peer="inventory") == 1
    assert shop.value("traceproof_traces_judged_total", service="checkout") == 2
    assert shop.value("traceproof_traces_judged_total", service="inventory") == 1
    (seen,) = shop.watcher.recent()
    assert (seen.kind, seen.service, seen.peer) == ("not_propagated", "checkout", "inventory")
    assert seen.trace_ids == (piece.trace_id, order.trace_id)
    assert seen.started_ns == piece.start_ns
    assert seen.as_json()["started"] == "2023-11-14T22:13:20.212Z"


def _order_missing_its_call(w: Window) -> tuple[Span, Span]:
    """An order whose CLIENT span (the parent of inventory's SERVER span) has not arrived: (that span, inventory's)."""
    w.order(0)
    order = w.order(200)
    (client,) = [s for s in w.spans if s.trace_id == order.trace_id and s.kind == "client"]
    (served,) = [s for s in w.spans if s.parent_id == client.span_id]
    assert served.attributes["client.address"] == CHECKOUT_ADDRESS
    return client, served


def _shop_missing_a_call(settings: Settings = SETTINGS) -> tuple[Shop, Span, Span]:
    """A watcher over a store where one order's CLIENT span has not arrived: (the watcher, that span, inventory's)."""
    w = Window()
    client, served = _order_missing_its_call(w)
    shop = Shop(w, settings)
    shop.visible.remove(client)
    return shop, client, served


def test_a_lost_parent_that_arrives_before_the_recheck_is_late_not_lost() -> None:
    shop, client, _ = _shop_missing_a_call()

    shop.ticks(1)
    assert shop.value("traceproof_traces_held") == 1
    assert shop.value("traceproof_breaks_total", kind="lost_parent", service="inventory", peer="") == 0
    shop.visible.append(client)  # the Collector delivered it late
    shop.ticks(5)  # 50 s after the first judgement: not due yet
    assert shop.value("traceproof_parents_late_total", service="inventory") == 0
    shop.ticks(1)  # 60 s

    assert shop.value("traceproof_parents_late_total", service="inventory") == 1
    assert shop.value("traceproof_spans_lost_total", service="inventory") == 0
    assert shop.value("traceproof_breaks_total", kind="lost_parent", service="inventory", peer="") == 0
    assert shop.value("traceproof_traces_held") == 0 and shop.value("traceproof_traces_held_peak") == 1
    assert shop.watcher.recent() == []


def test_a_lost_parent_that_never_arrives_is_lost_counted_once() -> None:
    shop, client, served = _shop_missing_a_call()

    shop.ticks(20)

    assert shop.value("traceproof_breaks_total", kind="lost_parent", service="inventory", peer="") == 1
    assert shop.value("traceproof_spans_lost_total", service="inventory") == 1
    assert shop.value("traceproof_parents_late_total", service="inventory") == 0
    (seen,) = shop.watcher.recent()
    assert (seen.kind, seen.trace_ids, seen.started_ns) == ("lost_parent", (served.trace_id,), served.start_ns)
    assert shop.value("traceproof_traces_held") == 0


def test_beyond_max_held_a_lost_parent_is_refused_and_counted_neither_lost_nor_late() -> None:
    shop, client, _ = _shop_missing_a_call(Settings(every_s=10, settle_s=30, late_after_s=60, context_s=10, max_held=0))

    shop.ticks(20)

    assert shop.value("traceproof_held_refused_total") == 1
    assert shop.value("traceproof_spans_lost_total", service="inventory") == 0
    assert shop.value("traceproof_breaks_total", kind="lost_parent", service="inventory", peer="") == 0


def test_the_series_cap_refuses_new_label_sets_and_counts_what_it_refused() -> None:
    w = Window()
    for i, service in enumerate(["billing", "search", "mail"]):
        w.request(service, "GET", "/", 1000 + i, 1010 + i)
    w.request("billing", "GET", "/", 2000, 2010)
    shop = Shop(w, max_series=2)

    shop.ticks(1)

    assert shop.value("traceproof_traces_judged_total", service="billing") == 2  # a label set it holds still counts
    assert shop.value("traceproof_traces_judged_total", service="search") == 1
    assert shop.metrics.registry.get_sample_value("traceproof_traces_judged_total", {"service": "mail"}) is None
    assert shop.value("traceproof_series_refused_total", metric="traceproof_traces_judged_total") == 1
    assert shop.metrics.series == 2


class Flaky:
    """A source that fails its first ``failures`` window reads with ``error``, then answers from ``inner``."""

    def __init__(self, inner: MemorySource, failures: int, error: SourceError) -> None:
        self.inner, self.failures, self.error = inner, failures, error
        self.asked: list[tuple[int, int]] = []

    def trace(self, trace_id: str) -> list[Span]:
        return self.inner.trace(trace_id)

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> SourceWindow:
        self.asked.append((start_ns, end_ns))
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return self.inner.window(start_ns, end_ns, services)

    def link(self, trace_id: str) -> str | None:
        return f"http://jaeger.example/trace/{trace_id}"


def test_a_source_error_is_counted_and_logged_once_and_the_window_is_read_again_next_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = Window()
    w.order(1000)
    w.order(15_000)
    shop = Shop(w)
    flaky = Flaky(shop.source, 2, JaegerUnreachable("Jaeger at http://jaeger:16686 does not answer"))
    shop.watcher.source = flaky

    with caplog.at_level(logging.ERROR, "traceproof.watch"):
        shop.ticks(2)
    assert shop.value("traceproof_windows_failed_total", reason="JaegerUnreachable") == 2
    assert shop.value("traceproof_lag_seconds") == 50  # settle and the two periods not judged
    assert shop.value("traceproof_windows_judged_total") == 0
    assert shop.watcher.attempted.is_set()
    assert len([r for r in caplog.records if "does not answer" in r.getMessage()]) == 1
    shop.ticks(1)  # answers again: [0 s, 30 s) at once, each trace once

    assert shop.value("traceproof_windows_judged_total") == 1
    assert shop.value("traceproof_traces_judged_total", service="checkout") == 2
    assert flaky.asked[-1] == (ns(-10_000), ns(30_000))  # the window, with its context before it


def test_a_backlog_is_judged_in_windows_of_max_window_and_one_over_budget_is_halved() -> None:
    w = Window()
    w.order(1000)
    w.order(25_000)
    shop = Shop(w, Settings(every_s=10, settle_s=30, late_after_s=60, context_s=0, max_window_s=20))
    flaky = Flaky(shop.source, 1, WindowTooLarge("over budget"))
    shop.watcher.source = flaky

    shop.clock.sleep(30)  # three periods late (a tick that took long): [0 s, 30 s) is due at once
    shop.watcher.tick()

    # 20 s at most: over budget, so halved; back to 20 s once one is judged
    assert flaky.asked == [(ns(0), ns(20_000)), (ns(0), ns(10_000)), (ns(10_000), ns(30_000))]
    assert shop.value("traceproof_windows_judged_total") == 2
    assert shop.value("traceproof_windows_failed_total", reason="WindowTooLarge") == 1
    assert shop.value("traceproof_traces_judged_total", service="checkout") == 2


def test_after_a_restart_the_watcher_starts_at_now_minus_settle_and_judges_nothing_twice() -> None:
    w = Window()
    w.order(200, stock_call="not_propagated")
    w.order(12_000, stock_call="not_propagated")
    w.order(0)
    first = Shop(w)
    first.ticks(1)  # [0 s, 10 s)
    assert first.value("traceproof_breaks_total", kind="not_propagated", service="checkout", peer="inventory") == 1

    second = Shop(w, start_ms=10_000)  # restarted: a new process, counters from zero
    assert second.watcher.next_start_ns == ns(10_000)
    second.ticks(2)  # [10 s, 20 s), [20 s, 30 s)

    assert second.value("traceproof_breaks_total", kind="not_propagated", service="checkout", peer="inventory") == 1
    assert second.value("traceproof_traces_judged_total", service="checkout") == 1


def test_run_ticks_every_period_on_the_clock_it_is_given() -> None:
    w = Window()
    w.order(1000)
    shop = Shop(w)
    started = shop.clock()

    shop.watcher.run(shop.clock.sleep, ticks=3)

    assert shop.clock() - started == ns(30_000) - ns(0)
    assert shop.value("traceproof_windows_judged_total") == 3
    assert shop.watcher.last_end_ns == ns(30_000)


def test_a_trace_gone_from_the_store_by_the_recheck_is_judged_on_what_was_read_first() -> None:
    shop, client, served = _shop_missing_a_call()
    shop.ticks(1)
    shop.visible = [s for s in shop.visible if s.trace_id != served.trace_id]  # expired from the store meanwhile

    shop.ticks(6)

    assert shop.value("traceproof_breaks_total", kind="lost_parent", service="inventory", peer="") == 1
    assert shop.value("traceproof_spans_lost_total", service="inventory") == 1
