"""What the Collector's own counters say about spans it refused, dropped or failed to send in a window.

A span whose parent never arrived was lost on the way, and the Collector
counts what it loses: its receivers count spans refused (the memory limiter
says no) and failed, its processors spans dropped, its exporters spans that
could not be queued or sent. With the Collector's internal telemetry scraped
into Prometheus those counters answer "was it the pipeline?" for the window.
The names end in ``_total`` or not depending on how they are exported, so each
is asked for by a ``__name__`` pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from traceproof.prometheus import PrometheusClient, PrometheusError

#: (counter, the label naming the component, what it means), for every counter of lost spans.
LOSS_COUNTERS = (
    ("otelcol_receiver_refused_spans", "receiver", "refused by receiver"),
    ("otelcol_receiver_failed_spans", "receiver", "failed in receiver"),
    ("otelcol_processor_dropped_spans", "processor", "dropped by processor"),
    ("otelcol_exporter_enqueue_failed_spans", "exporter", "not queued by exporter"),
    ("otelcol_exporter_send_failed_spans", "exporter", "not sent by exporter"),
)
#: A counter every Collector that receives spans has: whether its telemetry is scraped at all.
ACCEPTED = "otelcol_receiver_accepted_spans"


@dataclass(frozen=True)
class Loss:
    """Spans one component of the pipeline lost in the window."""

    what: str
    component: str
    spans: int


@dataclass(frozen=True)
class PipelineHealth:
    """The losses the counters show, or why they could not be read."""

    losses: list[Loss] = field(default_factory=list)
    problem: str | None = None

    @property
    def lost(self) -> int:
        return sum(loss.spans for loss in self.losses)


class PipelineCounters(Protocol):
    """Where the doctor asks what the pipeline lost over the last ``window_s`` seconds."""

    def health(self, window_s: float) -> PipelineHealth: ...


class PrometheusCounters:
    """The Collector's counters, as Prometheus at ``url`` scraped them."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self._timeout_s = timeout_s

    def health(self, window_s: float) -> PipelineHealth:
        seconds = max(1, round(window_s))
        try:
            with PrometheusClient(self.url, self._timeout_s) as prometheus:
                if not prometheus.query(f'count({{__name__=~"{ACCEPTED}(_total)?"}})'):
                    return PipelineHealth(
                        problem=f"Prometheus at {self.url} has no {ACCEPTED} series: scrape the Collector's own metrics "
                        "(its service.telemetry endpoint, :8888) to see what it loses"
                    )
                losses = []
                for counter, label, what in LOSS_COUNTERS:
                    promql = f'sum by ({label}) (increase({{__name__=~"{counter}(_total)?"}}[{seconds}s]))'
                    for sample in prometheus.query(promql):
                        if round(sample.value) > 0:
                            losses.append(Loss(what, sample.labels.get(label, "?"), round(sample.value)))
                return PipelineHealth(losses)
        except PrometheusError as exc:
            return PipelineHealth(problem=f"could not read the Collector's counters: {exc}")
