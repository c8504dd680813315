"""Waiting on the Collector's span counts in Prometheus, and reading what it stored: for the tests and the bench.

The counting itself (:meth:`traceproof.prometheus.PrometheusClient.span_calls`,
:class:`~traceproof.prometheus.SpanCounts`) is traceproof's, as `make load`
reads it; these are what only a test or a bench run asks of it. They wait
through traceproof's one loop, :func:`traceproof.wait.poll`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping

from traceproof.prometheus import CountKey, PrometheusClient, PrometheusError, SpanCounts
from traceproof.wait import poll

#: One series' samples over a range: its labels and (time, value), oldest first.
Stored = tuple[dict[str, str], list[tuple[float, float]]]


def stored(prometheus: PrometheusClient, selector: str, window_s: float) -> list[Stored]:
    """The samples Prometheus stored over the last ``window_s``: each series' labels and (time, value), oldest first."""
    result = prometheus.evaluate(f"{selector}[{round(window_s)}s]", "matrix")
    return [(r["metric"], [(float(t), float(v)) for t, v in r["values"]]) for r in result]


def scrape_health(prometheus: PrometheusClient) -> dict[str, str]:
    """Each scrape job's health and last error, as Prometheus sees them: why counts stopped, if they did."""
    try:
        targets = prometheus.targets()
    except PrometheusError as exc:
        return {"targets": str(exc)}
    return {t["scrapeUrl"]: t["health"] + (f" ({t['lastError']})" if t.get("lastError") else "") for t in targets}


def settled_span_calls(
    prometheus: PrometheusClient,
    services: tuple[str, ...],
    quiet_s: float,
    within_s: float,
    at_least: Mapping[CountKey, int] | None = None,
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

    def short(counts: SpanCounts) -> Counter[CountKey]:
        return target - (counts.since(since) if since is not None else counts.totals())

    last: list[SpanCounts] = []
    still_since: float | None = None

    def still(counts: SpanCounts) -> bool:
        nonlocal still_since
        if not last or counts != last[0] or still_since is None:
            last[:] = [counts]
            still_since = time.monotonic() if not short(counts) else None
        return still_since is not None and time.monotonic() - still_since >= quiet_s

    counts, done = poll(lambda: prometheus.span_calls(services), still, within_s, interval_s=1.0)
    if not done:
        missing = dict(short(counts))
        why = f"still short of what is on its way by {missing}" if missing else "still moving"
        raise PrometheusError(
            f"span counts {why} after {within_s:g} s: {dict(counts.totals())}; scrapes: {scrape_health(prometheus)}"
        )
    return counts
