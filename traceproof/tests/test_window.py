"""Reading a window from Jaeger: every trace once, however many pages it takes, whichever traces a full page keeps."""

from __future__ import annotations

import math
from typing import Any

import pytest

from builder import Window, ns
from fake_jaeger import FakeJaeger, otlp_json, parse_rfc3339
from traceproof.jaeger import JaegerClient, rfc3339
from traceproof.spans import Span
from traceproof.window import WindowReader

#: An order every 10 ms for 10 s: 1,000 traces, each with spans of checkout and inventory.
ORDERS = 1000
PAGE = 50


def orders(count: int, every_ms: float = 10.0, first_ms: float = 0.0, w: Window | None = None) -> Window:
    w = w or Window()
    for i in range(count):
        w.order(first_ms + i * every_ms)
    return w


def test_instants_are_written_to_the_nanosecond() -> None:
    instant = ns(1234.567891)
    assert rfc3339(instant) == "2023-11-14T22:13:21.234567891Z"
    assert parse_rfc3339(rfc3339(instant)) == instant


@pytest.mark.parametrize("keeps", ["latest", "earliest"])
def test_a_window_of_many_pages_is_read_whole_each_trace_once(keeps: str) -> None:
    w = orders(ORDERS)
    expected = w.traces()
    in_window = len(w.spans)
    orders(5, first_ms=-1000, w=w)  # ended before the window
    orders(5, first_ms=20_000, w=w)  # began after it
    with FakeJaeger(w.spans, keeps=keeps) as jaeger, JaegerClient(jaeger.url) as search:
        window = WindowReader(search, page_size=PAGE).read(ns(0), ns(ORDERS * 10))

    assert window.services == ["checkout", "inventory"]
    assert set(window.traces) == set(expected)
    assert all(len(window.traces[t]) == len(spans) for t, spans in expected.items())
    assert window.span_count == in_window
    assert window.crowded == []
    assert window.calls == jaeger.searches


def test_a_storage_that_keeps_the_latest_traces_is_read_in_about_as_many_calls_as_there_are_half_pages() -> None:
    w = orders(ORDERS)
    with FakeJaeger(w.spans, keeps="latest") as jaeger, JaegerClient(jaeger.url) as search:
        window = WindowReader(search, page_size=PAGE).read(ns(0), ns(ORDERS * 10))

    assert len(window.traces) == ORDERS
    # Per service: one full first answer, whose reach says how dense the window is, then slices of
    # half a page each (2 * 1000 / 50 = 40). Halving blindly instead would take 1 + 2 + ... + 32 = 63.
    half_pages = math.ceil(ORDERS / (PAGE / 2))
    assert window.calls <= 2 * (1 + half_pages + 2)


def test_a_trace_found_again_with_more_of_its_spans_is_kept_whole() -> None:
    w = orders(1)
    (server, client, served) = w.spans
    answers = {"checkout": otlp_json([server, client]), "inventory": otlp_json([server, client, served])}

    class Search:
        def services(self) -> list[str]:
            return ["checkout", "inventory"]

        def search(self, service: str, start_ns: int, end_ns: int, limit: int) -> dict[str, Any]:
            return answers[service]

    window = WindowReader(Search(), page_size=PAGE).read(ns(0), ns(100))

    assert {s.span_id for s in window.traces[server.trace_id]} == {server.span_id, client.span_id, served.span_id}


def test_more_traces_at_one_instant_than_a_page_holds_is_said_not_hidden() -> None:
    w = Window()
    for _ in range(PAGE + 10):
        w.request("checkout", "POST", "/checkout", 500, 600)
    with FakeJaeger(w.spans) as jaeger, JaegerClient(jaeger.url) as search:
        window = WindowReader(search, page_size=PAGE).read(ns(0), ns(1000))

    assert PAGE <= len(window.traces) < PAGE + 10
    assert window.crowded and all(service == "checkout" for service, _, _ in window.crowded)


def test_an_empty_window_reads_as_no_trace() -> None:
    w = orders(3, first_ms=5000)
    with FakeJaeger(w.spans) as jaeger, JaegerClient(jaeger.url) as search:
        window = WindowReader(search, page_size=PAGE).read(ns(0), ns(1000))

    assert window.traces == {} and window.services == ["checkout", "inventory"]


def test_spans_are_read_as_they_were_written() -> None:
    w = Window()
    order = w.order(0)
    w.span("checkout", "internal", "linked", 40, 60, links=[order], attributes={"flag": True, "share": 0.5})
    with FakeJaeger(w.spans) as jaeger, JaegerClient(jaeger.url) as search:
        window = WindowReader(search).read(ns(0), ns(1000))

    def essentials(s: Span) -> tuple[Any, ...]:
        return (s.trace_id, s.span_id, s.parent_id, s.name, s.kind, s.service, s.attributes, s.links, s.start_ns, s.end_ns)

    assert sorted(essentials(s) for spans in window.traces.values() for s in spans) == sorted(essentials(s) for s in w.spans)
