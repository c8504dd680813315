"""A small client for Prometheus's HTTP API, for the RED metrics the Collector derives from spans.

The Collector's spanmetrics connector counts every span it receives in
``traces_span_metrics_calls_total``, labelled by ``service_name``,
``span_name``, ``span_kind`` and ``status_code`` (and ``collector_instance_id``:
a Collector that starts again counts in new series, from zero); Prometheus scrapes it
(prometheus/prometheus.yml). :meth:`PrometheusClient.span_calls` reads those
counters as they stand, series by series (:class:`SpanCounts`), which is what
`make load` and the tests compare with what they sent.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from traceproof.api import ApiClient

DEFAULT_PROMETHEUS_URL = "http://localhost:9090"
CALLS = "traces_span_metrics_calls_total"


class PrometheusError(Exception):
    """Something a person must fix or wait for; the message says which."""


class PrometheusUnreachable(PrometheusError):
    pass


def prometheus_url() -> str:
    """Where Prometheus's API is: PROMETHEUS_URL, else localhost (the stack publishes 9090 there)."""
    return (os.environ.get("PROMETHEUS_URL") or DEFAULT_PROMETHEUS_URL).rstrip("/")


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


#: (service, span kind, status): what the connector counts spans by, as in ("orders", "server", "error").
CountKey = tuple[str, str, str]


def count_key(labels: dict[str, str]) -> CountKey:
    """The connector's labels (``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``) in the span model's words (``server``, ``error``)."""
    return (
        labels.get("service_name", ""),
        labels.get("span_kind", "").removeprefix("SPAN_KIND_").lower(),
        labels.get("status_code", "").removeprefix("STATUS_CODE_").lower(),
    )


#: One series of a counter: its labels, ``__name__`` aside.
SeriesId = frozenset[tuple[str, str]]


def series_id(labels: Mapping[str, str]) -> SeriesId:
    return frozenset((k, v) for k, v in labels.items() if k != "__name__")


N = TypeVar("N", int, float)


def growth(now: N, then: N) -> N:
    """How much one counter series grew from ``then`` to ``now``: a value lower than before is a reset
    (the process restarted), counted again from zero. Summing this per series, never differencing two
    sums, is what keeps a series going stale (a recreated agent's old one) from reading as a fall."""
    return now - then if now >= then else now


@dataclass(frozen=True)
class SpanCounts:
    """The connector's span counts as they stand, series by series.

    Growth is taken series by series, never as the difference of two sums: a
    series Prometheus stops showing drops out of any sum, and two do. A
    Collector that starts again counts in new series (its own
    ``collector_instance_id``), and the old ones end; and after Prometheus
    itself restarts, the series of the Collector it scraped before are still
    shown for the query lookback (5 min) after their last sample, then
    vanish, as it wrote no staleness marker for them. Either way a sum falls
    while nothing was uncounted.
    """

    series: Mapping[SeriesId, tuple[CountKey, int]]

    def totals(self) -> Counter[CountKey]:
        totals: Counter[CountKey] = Counter()
        for key, value in self.series.values():
            totals[key] += value
        return totals

    def since(self, before: SpanCounts) -> Counter[CountKey]:
        """How much each (service, kind, status) grew from ``before``: each series from its value then, or
        from zero if it is new; a series that has vanished since counts nothing."""
        grown: Counter[CountKey] = Counter()
        for sid, (key, value) in self.series.items():
            _, then = before.series.get(sid, (key, 0))
            grown[key] += growth(value, then)
        return grown

    def value(self, labels: Mapping[str, str]) -> int:
        """One series' count (0 if it is not shown)."""
        return self.series.get(series_id(labels), (("", "", ""), 0))[1]


class PrometheusClient(ApiClient):
    """Prometheus's HTTP API at ``url``."""

    def __init__(self, url: str | None = None, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url or prometheus_url(), timeout_s, transport)

    def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise PrometheusUnreachable(
                f"Prometheus is not reachable at {self.url} ({type(exc).__name__}). Start the stack with "
                "`make up`, or point PROMETHEUS_URL at your Prometheus."
            ) from exc

    def evaluate(self, promql: str, result_type: str) -> list[dict[str, Any]]:
        """An instant query's raw result, which must be of ``result_type`` (``vector``; ``matrix`` for a range selector)."""
        response = self._get("/api/v1/query", {"query": promql})
        body: dict[str, Any] = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code != 200 or body.get("status") != "success":
            why = body.get("error") or response.text[:200]
            raise PrometheusError(f"Prometheus at {self.url} answered {response.status_code} to {promql!r}: {why}")
        data: dict[str, Any] = body["data"]
        if data["resultType"] != result_type:
            raise PrometheusError(f"{promql!r} is a {data['resultType']}, not a {result_type}")
        result: list[dict[str, Any]] = data["result"]
        return result

    def query(self, promql: str) -> list[Sample]:
        """An instant query's vector, evaluated now."""
        return [Sample(labels=r["metric"], value=float(r["value"][1])) for r in self.evaluate(promql, "vector")]

    def span_calls(self, services: tuple[str, ...]) -> SpanCounts:
        """The connector's span counts of ``services``, series by series, as they stand."""
        selector = "|".join(services)
        samples = self.query(f'{CALLS}{{service_name=~"{selector}"}}')
        return SpanCounts({series_id(s.labels): (count_key(s.labels), round(s.value)) for s in samples})

    def targets(self) -> list[dict[str, Any]]:
        """The scrape targets Prometheus is active on, as its ``/api/v1/targets`` lists them (health, lastError, scrapeUrl...)."""
        response = self._get("/api/v1/targets", {"state": "active"})
        if response.status_code != 200:
            raise PrometheusError(f"Prometheus at {self.url} answered {response.status_code} to /api/v1/targets")
        targets: list[dict[str, Any]] = response.json()["data"]["activeTargets"]
        return targets
