"""The gateway tier keeps every failing trace whole, a fair share of the rest, and the metrics count everything.

Against ``make up-scale``: the agent routes by trace id to the gateways, each
gateway decides per whole trace (collector/gateway.yaml). One load of a
known mix, every trace id recorded, is read back from Jaeger and Prometheus.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from explore.load import Result
from tests.e2e.conftest import quiet_counts
from tests.scale.conftest import (
    DECIDED_WITHIN_S,
    JAEGER_WRITES_WITHIN_S,
    STATUS,
    Policy,
    decided,
    holes,
    wait_decided_and_sent,
)
from tests.support import binomial
from tests.support.load import Load
from traceproof.jaeger import JaegerClient, TraceIncomplete, TraceNotFound, has_spans
from traceproof.prometheus import CountKey, PrometheusClient
from traceproof.spans import Span
from traceproof.wait import poll

#: The load's mix (STATUS: what checkout answers each SKU with).
MIX = {"item-123": 70.0, "fault-crash": 10.0, "fault-slow": 10.0, "sold-out": 10.0}
GOOD = "item-123"
#: 30 s at 20/s: ~420 good orders, enough that a wrong share cannot hide in the binomial spread.
DURATION_S = 30.0

Shape = Counter[CountKey]


def shape(spans: list[Span]) -> Shape:
    return Counter((s.service, s.kind, s.status) for s in spans)


def kept(jaeger: JaegerClient, results: list[Result], expected: int) -> dict[str, list[Span]]:
    """The traces Jaeger has of these orders, by trace id, once it has the ``expected`` many the gateways kept.

    Asked after the gateways sent them; only Jaeger's own batch can still be
    writing the last few, so those not found are asked again until then.
    """
    found: dict[str, list[Span]] = {}

    def ask_again() -> dict[str, list[Span]]:
        for result in results:
            assert result.trace_id
            if result.trace_id not in found:
                with contextlib.suppress(TraceNotFound):
                    found[result.trace_id] = jaeger.trace(result.trace_id)
        return found

    poll(ask_again, lambda found: len(found) >= expected, timeout_s=JAEGER_WRITES_WITHIN_S, interval_s=0.5)
    assert len(found) == expected, f"the gateways kept {expected} good jaeger, Jaeger has {len(found)}"
    return found


def span_of(spans: list[Span]) -> float:
    """Seconds from a trace's first start to its last end, as the latency policy measures it."""
    return (max(s.end_ns for s in spans) - min(s.start_ns for s in spans)) / 1e9


def test_every_failing_trace_is_kept_whole_and_a_fair_share_of_the_rest(
    jaeger: JaegerClient, prometheus: PrometheusClient, policy: Policy, record: dict[str, Any]
) -> None:
    before = quiet_counts(prometheus)
    wait_decided_and_sent(prometheus)  # nothing of the tests before still to decide
    decided_before = decided(prometheus)
    with Load(DURATION_S, MIX, seed=13) as load:
        pass
    results = load.results
    wrong = [(r.sku, r.outcome) for r in results if r.outcome != STATUS[r.sku] or not r.trace_id]
    assert not wrong, f"orders answered otherwise than the SKU says, or without a trace id: {wrong[:10]}"
    wait_decided_and_sent(prometheus)
    decisions = {k: n - decided_before.get(k, 0) for k, n in decided(prometheus).items()}
    assert sum(decisions.values()) == len(results), f"{len(results)} orders, the gateways decided {decisions}"
    by_sku = Counter(r.sku for r in results)

    # Every failing order's trace: in Jaeger, whole.
    failing = [r for r in results if r.sku != GOOD]
    shapes: dict[str, set[tuple[tuple[CountKey, int], ...]]] = {}
    for result in failing:
        assert result.trace_id
        # Returns at once if whole; waits only for Jaeger's own batch still being written.
        try:
            spans = jaeger.wait_for(
                result.trace_id, lambda spans: bool(spans) and not holes(spans), timeout_s=JAEGER_WRITES_WITHIN_S
            )
        except TraceIncomplete as exc:
            raise AssertionError(f"{result.sku} trace {result.trace_id} is not kept whole: {holes(exc.spans)}") from None
        shapes.setdefault(result.sku, set()).add(tuple(sorted(shape(spans).items())))
    sold_out_client = ("checkout", "client", "error")
    assert all(dict(s).get(sold_out_client) for s in shapes["sold-out"]), "sold-out is kept for its CLIENT error"

    # The good ones: Jaeger has every one the gateways kept, each whole ...
    good = [r for r in results if r.sku == GOOD]
    good_kept = kept(jaeger, good, decisions.get("true", 0) - len(failing))
    for trace_id, spans in good_kept.items():
        assert not holes(spans), f"kept good trace {trace_id} is not whole: {holes(spans)}"
        shapes.setdefault(GOOD, set()).add(tuple(sorted(shape(spans).items())))
    # ... and, of those not kept for being slow (a good order past SAMPLE_SLOW_MS on a
    # busy machine is kept by the latency policy, whatever the share), a share within
    # chance of SAMPLE_OK_PERCENT. The probabilistic policy hashes the trace id, which the
    # SDK draws at random: a fair sampler lands outside the bounds 2 x 1e-5 of the time.
    slow = [t for t, spans in good_kept.items() if span_of(spans) >= policy.slow_ms / 1000]
    lo, hi = binomial.interval(len(good) - len(slow), policy.ok_percent / 100, tail=1e-5)
    by_chance = len(good_kept) - len(slow)
    assert lo <= by_chance <= hi, (
        f"{by_chance} of {len(good) - len(slow)} good traces kept (and {len(slow)} slow ones); "
        f"{policy.ok_percent:g}% gives {lo}..{hi}"
    )

    # All traces of one SKU have the same spans (a trace that lost some would differ) ...
    assert all(len(s) == 1 for s in shapes.values()), {sku: len(s) for sku, s in shapes.items()}
    per_order = {sku: Counter(dict(next(iter(s)))) for sku, s in shapes.items()}
    # ... and the agent's counters grew by every order's spans, sampled or not.
    expected: Counter[CountKey] = Counter()
    for sku, n in by_sku.items():
        for key, count in per_order[sku].items():
            expected[key] += n * count
    grown = quiet_counts(prometheus, at_least=expected, since=before).since(before)
    assert grown == expected, f"the counters grew by {dict(grown)}; {dict(by_sku)} orders make {dict(expected)}"
    record["sampling"] = {
        "gateways": policy.gateways,
        "orders": dict(by_sku),
        "failing_kept_whole": len(failing),
        "good_kept": len(good_kept),
        "good_kept_slow": len(slow),
        "good_kept_by_chance": by_chance,
        "good_kept_by_chance_bounds": [lo, hi],
        "ok_percent": policy.ok_percent,
        "spans_counted": sum(grown.values()),
        "spans_kept": sum(sum(per_order[r.sku].values()) for r in results if r.sku != GOOD or r.trace_id in good_kept),
    }


def test_a_slow_trace_is_kept_though_nothing_failed(jaeger: JaegerClient, policy: Policy) -> None:
    """The latency policy on its own: OK traces longer than SAMPLE_SLOW_MS, sent straight to the agent."""
    assert policy.ok_percent <= 50, "with most good traces kept anyway, 20 slow ones kept would prove nothing"
    provider = TracerProvider(resource=Resource.create({"service.name": "scale-probe"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces")))
    tracer = provider.get_tracer("tests.scale")
    trace_ids = []
    slow_ns = int((policy.slow_ms + 200) * 1e6)
    for _ in range(20):
        start = time.time_ns() - slow_ns
        root = tracer.start_span("slow but fine", start_time=start)
        trace_ids.append(format(root.get_span_context().trace_id, "032x"))
        root.end(end_time=start + slow_ns)
    provider.shutdown()
    # 20 kept by chance alone: 1 in 10^20 at 10%, 1 in 10^6 at 50%.
    missing = []
    for trace_id in trace_ids:
        try:
            jaeger.wait_for(trace_id, has_spans(1), timeout_s=DECIDED_WITHIN_S + 15)
        except TraceIncomplete:
            missing.append(trace_id)
    assert not missing, f"{len(missing)} of 20 slow OK traces were dropped: {missing[:3]}"
