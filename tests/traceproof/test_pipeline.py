"""What the Collector's own counters say about lost spans, read from a fake Prometheus; and the doctor saying it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from builder import Window, ns
from fake_jaeger import FakeJaeger
from json_server import JsonServer
from traceproof.cli import main
from traceproof.doctor.pipeline import Loss, PrometheusCounters


class FakePrometheus(JsonServer):
    """Answers each instant query with the samples of the first counter name it mentions (``series``), else none."""

    def __init__(self, series: dict[str, list[tuple[dict[str, str], float]]]) -> None:
        self.queries: list[str] = []

        def answer(path: str, query: dict[str, str]) -> tuple[int, Any]:
            promql = query["query"]
            self.queries.append(promql)
            samples = next((found for name, found in series.items() if name in promql), [])
            result = [{"metric": labels, "value": [1_700_000_000, str(value)]} for labels, value in samples]
            return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}

        super().__init__(answer)
        self.start()


#: A Prometheus that scrapes the Collector has its accepted-spans counter.
SCRAPED: dict[str, list[tuple[dict[str, str], float]]] = {"otelcol_receiver_accepted_spans": [({}, 1.0)]}


@pytest.fixture
def refusing() -> Iterator[FakePrometheus]:
    prometheus = FakePrometheus(
        {
            **SCRAPED,
            "otelcol_receiver_refused_spans": [({"receiver": "otlp"}, 12.4)],
            "otelcol_exporter_send_failed_spans": [({"exporter": "otlp_grpc/jaeger"}, 0.0)],
        }
    )
    yield prometheus
    prometheus.stop()


def test_spans_the_collector_refused_in_the_window_are_counted_by_component(refusing: FakePrometheus) -> None:
    health = PrometheusCounters(refusing.url).health(900.0)

    assert health.problem is None
    assert health.losses == [Loss("refused by receiver", "otlp", 12)]
    refused = next(q for q in refusing.queries if "refused" in q)
    assert refused == 'sum by (receiver) (increase({__name__=~"otelcol_receiver_refused_spans(_total)?"}[900s]))'


def test_a_prometheus_without_the_collectors_own_metrics_is_said_to_lack_them() -> None:
    prometheus = FakePrometheus({})
    try:
        health = PrometheusCounters(prometheus.url).health(60.0)
    finally:
        prometheus.stop()

    assert health.losses == []
    assert health.problem is not None and "scrape the Collector's own metrics" in health.problem


def test_an_unreachable_prometheus_is_a_problem_said_not_a_failure() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    health = PrometheusCounters(f"http://127.0.0.1:{port}").health(60.0)

    assert health.losses == [] and health.problem is not None and "not reachable" in health.problem


def test_the_doctor_says_what_the_pipeline_lost_beside_a_lost_parent(
    refusing: FakePrometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    w = Window()
    order = w.order(0)
    w.spans.remove(order)  # checkout's SERVER span never arrives
    with FakeJaeger(w.spans) as jaeger:
        code = main(
            ["doctor", "--jaeger", jaeger.url, "--since", "1m", "--wait", "2s", "--prometheus", refusing.url, "--json"],
            now_ns=lambda: ns(10_000),
            sleep=lambda seconds: None,
        )
    report = json.loads(capsys.readouterr().out)

    assert code == 1
    assert [b["kind"] for b in report["breaks"]] == ["lost_parent"]
    assert report["pipeline"] == {"losses": [{"what": "refused by receiver", "component": "otlp", "spans": 12}], "problem": None}
    # The counters are read over the window and the wait: 60 s + 2 s.
    assert any("[62s]" in q for q in refusing.queries)
