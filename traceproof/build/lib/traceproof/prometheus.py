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
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


#: (service, span kind, status), as the tests count spans: ("orders", "SERVER", "ERROR").
SpanKey = tuple[str, str, str]


def span_key(labels: dict[str, str]) -> SpanKey:
    """The connector's labels (``SPAN_KIND_SERVER``, ``STATUS_CODE_ERROR``) in the span model's words."""
    return (
        labels.get("service_name", ""),
        labels.get("span_kind", "").removeprefix("SPAN_KIND_"),
        labels.get("status_code", "").removeprefix("STATUS_CODE_"),
    )


#: One series of a counter: its labels, ``__name__`` aside.
SeriesId = frozenset[tuple[str, str]]


def series_id(labels: Mapping[str, str]) -> SeriesId:
    return frozenset((k, v) for k, v in labels.items() if k != "__name__")


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

    series: Mapping[SeriesId, tuple[SpanKey, int]]

    def totals(self) -> Counter[SpanKey]:
        totals: Counter[SpanKey] = Counter()
        for key, value in self.series.values():
            totals[key] += value
        return totals

    def since(self, before: SpanCounts) -> Counter[SpanKey]:
        """How much each (service, kind, status) grew from ``before``: each series from its value then, or
        from zero if it is new; a series that has vanished since counts nothing."""
        grown: Counter[SpanKey] = Counter()
        for sid, (key, value) in self.series.items():
            _, then = before.series.get(sid, (key, 0))
            grown[key] += value - then if value >= then else value  # lower: a reset, counted again from zero
        return grown

    def value(self, labels: Mapping[str, str]) -> int:
        """One series' count (0 if it is not shown)."""
        return self.series.get(series_id(labels), (("", "", ""), 0))[1]


class PrometheusClient(ApiClient):
    """Prometheus's HTTP API at ``url``."""

    def __init__(self, url: str | None = None, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(url or prometheus_url(), timeout_s, transport)

    def _evaluate(self, promql: str, result_type: str) -> list[dict[str, Any]]:
        """An instant query's result, which must be of ``result_type`` (vector, matrix)."""
        try:
            response = self._http.get("/api/v1/query", params={"query": promql})
        except httpx.TransportError as exc:
            raise PrometheusUnreachable(
                f"Prometheus is not reachable at {self.url} ({type(exc).__name__}). Start the stack with "
                "`make up`, or point PROMETHEUS_URL at your Prometheus."
            ) from exc
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
        return [Sample(labels=r["metric"], value=float(r["value"][1])) for r in self._evaluate(promql, "vector")]

    def stored(self, selector: str, window_s: float) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        """The samples Prometheus stored over the last ``window_s``: each series' labels and (time, value), oldest first."""
        result = self._evaluate(f"{selector}[{round(window_s)}s]", "matrix")
        return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in result]

    def span_calls(self, services: tuple[str, ...]) -> SpanCounts:
        """The connector's span counts of ``services``, series by series, as they stand."""
        selector = "|".join(services)
        samples = self.query(f'{CALLS}{{service_name=~"{selector}"}}')
        return SpanCounts({series_id(s.labels): (span_key(s.labels), round(s.value)) for s in samples})

    def settled_span_calls(
        self,
        services: tuple[str, ...],
        quiet_s: float,
        within_s: float,
        at_least: Mapping[SpanKey, int] | None = None,
        since: SpanCounts | None = None,
    ) -> SpanCounts:
        """The span counts once they have not moved for ``quiet_s``: every span sent before is in them.

        With the connector flushing every 5 s and Prometheus scraping every 5 s, a
        count still for 12 s has usually taken in everything; but a span late on
        its way (an export retried, a scrape missed) can be later than any quiet.
        ``at_least`` is what the caller knows is on its way (counts from Jaeger's
        traces), as growth ``since`` an earlier reading, or as totals without
        one: the quiet then starts only once every count has reached it, and
        still catches a count that goes past it. PrometheusError if the counts
        are still moving, or short of ``at_least``, after ``within_s``.
        """
        target = Counter(at_least or {})

        def short(counts: SpanCounts) -> Counter[SpanKey]:
            return target - (counts.since(since) if since is not None else counts.totals())

        started = time.monotonic()
        counts = self.span_calls(services)
        still_since = time.monotonic() if not short(counts) else None
        while still_since is None or time.monotonic() - still_since < quiet_s:
            if time.monotonic() - started > within_s:
                missing = dict(short(counts))
                why = f"still short of what is on its way by {missing}" if missing else "still moving"
                raise PrometheusError(
                    f"span counts {why} after {within_s:g} s: {dict(counts.totals())}; scrapes: {self.scrape_health()}"
                )
            time.sleep(1.0)
            now = self.span_calls(services)
            if now != counts or still_since is None:
                counts = now
                still_since = time.monotonic() if not short(counts) else None
        return counts

    def scrape_health(self) -> dict[str, str]:
        """Each scrape job's health and last error, as Prometheus sees them: why counts stopped, if they did."""
        response = self._http.get("/api/v1/targets", params={"state": "active"})
        if response.status_code != 200:
            return {"targets": f"answered {response.status_code}"}
        targets = response.json()["data"]["activeTargets"]
        return {t["scrapeUrl"]: t["health"] + (f" ({t['lastError']})" if t.get("lastError") else "") for t in targets}
