"""What ``traceproof watch`` counts, in a registry of its own, and the cap on how many label sets it may grow to.

Services and peers come from the traces, so the labelled families could grow
without end (a service named after a pod, a flood of test services). Every
label set of every labelled family counts against one cap, ``max_series``: a
set seen before is always counted, a new one beyond the cap is refused and
``traceproof_series_refused_total{metric}`` counts the refusal. Counters never
lose a label set once they have it, so what Prometheus scraped stays true.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from traceproof.watch import MAX_SERIES

#: The content type of :meth:`WatchMetrics.exposition`: Prometheus's text format.
CONTENT_TYPE = CONTENT_TYPE_LATEST


class WatchMetrics:
    """The watcher's counters and gauges, in a private :class:`CollectorRegistry` (never the process's global one)."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._series: set[tuple[str, tuple[str, ...]]] = set()
        self._peaks = {"spans": 0, "traces": 0}
        r = self.registry

        def counter(name: str, documentation: str, *labels: str) -> Counter:
            return Counter(name, documentation, labels, registry=r)

        self.traces_judged = counter(
            "traceproof_traces_judged", "Traces judged, by the service of the trace's root span", "service"
        )
        self.breaks = counter(
            "traceproof_breaks",
            "Breaks found, by the doctor's kind, the service where the fix belongs and the other service of the edge",
            "kind",
            "service",
            "peer",
        )
        self.spans_lost = counter(
            "traceproof_spans_lost",
            "Parent spans still missing at the re-check after --late-after: lost by the pipeline (service of the orphans)",
            "service",
        )
        self.parents_late = counter(
            "traceproof_parents_late",
            "Parent spans missing at the first judgement that arrived before the re-check: late, not lost",
            "service",
        )
        self.series_refused = counter(
            "traceproof_series_refused",
            "Counts not recorded because their label set would pass --max-series, by metric",
            "metric",
        )
        self.windows_judged = counter("traceproof_windows_judged", "Windows read and judged")
        self.windows_failed = counter(
            "traceproof_windows_failed",
            "Windows the source could not read (retried next tick) or the rules could not judge (skipped), by error",
            "reason",
        )
        self.rechecks_failed = counter(
            "traceproof_rechecks_failed",
            "Re-checks of lost parents the source could not read (retried next tick), by error",
            "reason",
        )
        self.held_refused = counter(
            "traceproof_held_refused",
            "Traces with a lost parent not held for the re-check because --max-held traces were held: neither lost nor late",
        )
        self.spans_dropped = counter(
            "traceproof_spans_dropped",
            "Spans the file tail let go of before their time because --max-spans were held, the earliest-ended traces first",
        )
        self.lines_skipped = counter(
            "traceproof_lines_skipped", "Whole lines of the Collector's files skipped as not OTLP JSON (the file tail's)"
        )
        self._source_counts = {"spans_dropped": 0, "lines_skipped": 0}
        self.lag = Gauge("traceproof_lag_seconds", "How far behind real time the end of the latest judged window is", registry=r)
        self.spans_held = Gauge(
            "traceproof_spans_held", "Spans the latest window (or re-check) read held in memory while judged", registry=r
        )
        self.spans_held_peak = Gauge("traceproof_spans_held_peak", "The most spans one read has held since start", registry=r)
        self.traces_held = Gauge("traceproof_traces_held", "Traces with a lost parent held for the re-check", registry=r)
        self.traces_held_peak = Gauge(
            "traceproof_traces_held_peak", "The most traces held for the re-check at once since start", registry=r
        )
        self.limit = Gauge(
            "traceproof_limit", "The watcher's bounds: max_spans, max_held, max_series, recent", ["name"], registry=r
        )
        self.limit.labels(name="max_series").set(max_series)

    def _admit(self, metric: str, labels: tuple[str, ...]) -> bool:
        """Whether a count under ``labels`` may be recorded: seen before, or room left under the cap."""
        with self._lock:
            if (metric, labels) in self._series:
                return True
            if len(self._series) >= self.max_series:
                refused = True
            else:
                self._series.add((metric, labels))
                refused = False
        if refused:
            self.series_refused.labels(metric=metric).inc()
        return not refused

    @property
    def series(self) -> int:
        """Label sets in use under the cap."""
        with self._lock:
            return len(self._series)

    def judged(self, service: str) -> None:
        if self._admit("traceproof_traces_judged_total", (service,)):
            self.traces_judged.labels(service=service).inc()

    def broke(self, kind: str, service: str, peer: str | None) -> None:
        labels = (kind, service, peer or "")
        if self._admit("traceproof_breaks_total", labels):
            self.breaks.labels(*labels).inc()

    def lost(self, service: str, spans: int) -> None:
        if spans > 0 and self._admit("traceproof_spans_lost_total", (service,)):
            self.spans_lost.labels(service=service).inc(spans)

    def late(self, service: str, spans: int) -> None:
        if spans > 0 and self._admit("traceproof_parents_late_total", (service,)):
            self.parents_late.labels(service=service).inc(spans)

    def read(self, spans: int) -> None:
        """A read held ``spans`` spans."""
        self.spans_held.set(spans)
        with self._lock:
            self._peaks["spans"] = max(spans, self._peaks["spans"])
            self.spans_held_peak.set(self._peaks["spans"])

    def source_counts(self, source: object) -> None:
        """What a source counts itself (the file tail's ``spans_dropped`` and ``lines_skipped``), added as it grows."""
        for name, counter in (("spans_dropped", self.spans_dropped), ("lines_skipped", self.lines_skipped)):
            value = getattr(source, name, None)
            if isinstance(value, int) and value > self._source_counts[name]:
                counter.inc(value - self._source_counts[name])
                self._source_counts[name] = value

    def holding(self, traces: int) -> None:
        self.traces_held.set(traces)
        with self._lock:
            self._peaks["traces"] = max(traces, self._peaks["traces"])
            self.traces_held_peak.set(self._peaks["traces"])

    def exposition(self) -> bytes:
        """Everything, in Prometheus's text format."""
        return generate_latest(self.registry)
