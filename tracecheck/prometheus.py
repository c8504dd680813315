"""A small client for Prometheus's HTTP API, for the RED metrics the Collector derives from spans.

The Collector's spanmetrics connector counts every span it receives in
``traces_span_metrics_calls_total``, labelled by ``service_name``,
``span_name``, ``span_kind`` and ``status_code`` (and ``collector_instance_id``:
a Collector that starts again counts in new series, from zero); Prometheus scrapes it
(prometheus/prometheus.yml). :meth:`PrometheusClient.span_calls` reads those
counters as they stand, which is what `make load` and the tests compare with
what they sent.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from tracecheck.api import ApiClient

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

    def span_calls(self, services: tuple[str, ...]) -> dict[SpanKey, int]:
        """The connector's span counts of ``services`` by service, span kind and status, as they stand."""
        selector = "|".join(services)
        samples = self.query(f'sum by (service_name, span_kind, status_code) ({CALLS}{{service_name=~"{selector}"}})')
        return {span_key(s.labels): round(s.value) for s in samples}

    def settled_span_calls(
        self, services: tuple[str, ...], quiet_s: float, within_s: float, at_least: Mapping[SpanKey, int] | None = None
    ) -> Counter[SpanKey]:
        """The span counts once they have not moved for ``quiet_s``: every span sent before is in them.

        With the connector flushing every 5 s and Prometheus scraping every 5 s, a
        count still for 12 s has usually taken in everything; but a span late on
        its way (an export retried, a scrape missed) can be later than any quiet.
        ``at_least`` is what the caller knows is on its way (counts from Jaeger's
        traces): the quiet then starts only once every count has reached it, and
        still catches a count that goes past it. PrometheusError if the counts
        are still moving, or short of ``at_least``, after ``within_s``.
        """
        target = Counter(at_least or {})

        def reached(counts: Counter[SpanKey]) -> bool:
            return not target - counts

        started = time.monotonic()
        counts = Counter(self.span_calls(services))
        since = time.monotonic() if reached(counts) else None
        while since is None or time.monotonic() - since < quiet_s:
            if time.monotonic() - started > within_s:
                short = dict(target - counts)
                why = f"still short of what is on its way by {short}" if short else "still moving"
                raise PrometheusError(f"span counts {why} after {within_s:g} s: {dict(counts)}; scrapes: {self.scrape_health()}")
            time.sleep(1.0)
            now = Counter(self.span_calls(services))
            if now != counts or since is None:
                counts = now
                since = time.monotonic() if reached(counts) else None
        return counts

    def scrape_health(self) -> dict[str, str]:
        """Each scrape job's health and last error, as Prometheus sees them: why counts stopped, if they did."""
        response = self._http.get("/api/v1/targets", params={"state": "active"})
        if response.status_code != 200:
            return {"targets": f"answered {response.status_code}"}
        targets = response.json()["data"]["activeTargets"]
        return {t["scrapeUrl"]: t["health"] + (f" ({t['lastError']})" if t.get("lastError") else "") for t in targets}
