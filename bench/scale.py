"""``make bench-scale``: spans per second through 1 and through GATEWAYS gateway Collectors, and each tier's CPU per span.

For each gateway count, the `make up-scale` stack is brought to that many
gateways, and synthetic traces (bench/spans.py) are sent to the agent at
rising rates, 15 s each, until one is not sustained. The Collectors' own
metrics, scraped by Prometheus, say what each tier took in and what its
processes spent (``otelcol_process_cpu_seconds``); Jaeger's CPU comes from
/proc. A rate counts as sustained only if every span the agent accepted
reached a gateway, nothing was refused, and no queue held more than a second
of it. Results go to
bench/results/scale.json (scale-smoke.json with BENCH_SMOKE=1, a few seconds a
step, asserting nothing about speed); docs/scaling.md quotes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.machine import machine
from bench.services import ROOT, process_cpu_s
from bench.spans import send_at
from harness.containers import container_field
from traceproof.prometheus import PrometheusClient, Sample, growth
from traceproof.wait import poll

SCALE_COMPOSE = ["docker", "compose", "-f", "docker-compose.yml", "-f", "docker-compose.scale.yml"]
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
DURATION_S = 5.0 if SMOKE else 15.0
AGENT_OTLP = "http://127.0.0.1:4318/v1/traces"
#: The gateways' decision wait (collector/gateway.yaml) and a scrape or two more.
DECISIONS_DONE_S = 10.0 + 12.0

#: Counters read series by series: growth is summed per series (see :func:`grown`), never a difference of sums.
COUNTERS = {
    "agent_accepted": 'otelcol_receiver_accepted_spans{job="otel-collector"}',
    "agent_refused": 'otelcol_receiver_refused_spans{job="otel-collector"}',
    "gateway_accepted": 'otelcol_receiver_accepted_spans{job="gateways"}',
    "gateway_kept": 'otelcol_exporter_sent_spans{job="gateways"}',
    "agent_cpu_s": 'otelcol_process_cpu_seconds{job="otel-collector"}',
    "gateway_cpu_s": 'otelcol_process_cpu_seconds{job="gateways"}',
}
#: Each counter's series (by their labels) and values at one reading.
Counts = dict[str, dict[tuple[tuple[str, str], ...], float]]


def gateway_counts() -> tuple[int, ...]:
    """1, and GATEWAYS (the environment's, else 3): one gateway against the tier."""
    most = int(os.environ.get("GATEWAYS", "3"))
    return (1, most) if most > 1 else (1,)


def bring_to(gateways: int, prometheus: PrometheusClient) -> None:
    """The scale stack with ``gateways`` gateways, each scraped and in the agent's ring."""
    env = {**os.environ, "GATEWAYS": str(gateways)}
    up = subprocess.run([*SCALE_COMPOSE, "up", "--wait", "--remove-orphans"], cwd=ROOT, env=env, capture_output=True, text=True)
    if up.returncode != 0:
        raise RuntimeError(f"docker compose up ({gateways} gateways) failed: {up.stderr.strip()[-500:]}")

    # Generous: once, from a stack just started, the ring took over a minute to settle.
    def ring_and_scraped() -> tuple[list[Sample], list[Sample]]:
        return (
            prometheus.query('otelcol_loadbalancer_num_backends{job="otel-collector"}'),
            prometheus.query('count(up{job="gateways"} == 1)'),
        )

    def all_in(seen: tuple[list[Sample], list[Sample]]) -> bool:
        return all(samples and round(samples[0].value) == gateways for samples in seen)

    (ring, scraped), ready = poll(ring_and_scraped, all_in, timeout_s=180, interval_s=1)
    if ready:
        return
    seen = f"ring {[r.value for r in ring]}, gateways scraped {[s.value for s in scraped]}"
    raise RuntimeError(f"the agent's ring or Prometheus did not reach {gateways} gateways within 180 s ({seen})")


def read(prometheus: PrometheusClient) -> Counts:
    values: Counts = {}
    for name, promql in COUNTERS.items():
        values[name] = {tuple(sorted(s.labels.items())): s.value for s in prometheus.query(promql)}
    values["jaeger_cpu_s"] = {(): process_cpu_s(int(container_field("jaeger", "{{.State.Pid}}")))}
    return values


def grown(after: Counts, before: Counts) -> dict[str, float]:
    """How much each counter grew, series by series: a new series from zero, a reset one from zero, a vanished one not at all.

    Moving from 1 gateway to 3 recreates the agent, and for a while Prometheus
    shows the old agent's series beside the new one's before the old goes
    stale: a difference of two sums would fall then, though nothing uncounted.
    """
    return {
        name: sum(growth(value, before.get(name, {}).get(labels, 0.0)) for labels, value in series.items())
        for name, series in after.items()
    }


def settled(prometheus: PrometheusClient, quiet_s: float = 11.0, within_s: float = 120.0) -> Counts:
    """The counters once the gateways' intake and output have held still for ``quiet_s`` (two scrapes)."""
    keys = ("agent_accepted", "gateway_accepted", "gateway_kept")
    last: list[Counts] = []
    still_since = time.monotonic()

    def still(now: Counts) -> bool:
        nonlocal still_since
        if not last or any(now[k] != last[0][k] for k in keys):
            last[:], still_since = [now], time.monotonic()
        return time.monotonic() - still_since >= quiet_s

    counts, done = poll(lambda: read(prometheus), still, within_s, interval_s=1.0)
    if not done:
        raise RuntimeError(f"the gateways' counters did not settle within {within_s:g} s")
    return counts


#: Offered spans a second, step by step, until one is not sustained.
RATES = (2_000,) if SMOKE else (5_000, 10_000, 20_000, 40_000, 80_000)
#: A queue holding more than this many seconds of the offered spans, at any
#: scrape, means a tier fell behind (the queues count spans: `sizer: items`).
QUEUE_BUILT_UP_S = 1.0
QUEUES = 'max(otelcol_exporter_queue_size{job=~"otel-collector|gateways", exporter=~"load_balancing|otlp_grpc/jaeger"})'


def offer(rate: float, prometheus: PrometheusClient, before: Counts) -> tuple[dict[str, Any], Counts]:
    """``rate`` spans a second for DURATION_S: what each tier took in and spent on it since ``before``
    (settled counters), and the settled counters after it, which the next rate starts from."""
    started = time.monotonic()
    deepest = 0.0
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(send_at, AGENT_OTLP, rate, DURATION_S)
        while not sending.done():
            samples = prometheus.query(QUEUES)
            deepest = max([deepest, *(q.value for q in samples)])
            time.sleep(1)
        sent = sending.result()
    load_s = time.monotonic() - started
    time.sleep(DECISIONS_DONE_S)
    after = settled(prometheus)
    growth = grown(after, before)
    spans = growth["gateway_accepted"]
    refused = growth["agent_refused"] > 0 or sent.refused_requests > 0
    sustained = not refused and deepest <= QUEUE_BUILT_UP_S * rate and spans == growth["agent_accepted"] == sent.spans

    def per_span_us(cpu_s: float, count: float) -> float | None:
        return round(cpu_s / count * 1e6, 1) if count else None

    result = {
        "offered_spans_per_s": rate,
        "load_s": round(load_s, 1),
        "spans_sent": sent.spans,
        "agent_accepted": growth["agent_accepted"],
        "gateway_accepted": spans,
        "spans_per_s": round(spans / load_s),
        "sustained": sustained,
        "deepest_queue_spans": deepest,
        "refused_requests": sent.refused_requests,
        "agent_refused_spans": growth["agent_refused"],
        "spans_kept": growth["gateway_kept"],
        "kept_share": round(growth["gateway_kept"] / spans, 3) if spans else None,
        "cpu_us_per_span": {
            "generator": per_span_us(sent.cpu_s, sent.spans),
            "agent": per_span_us(growth["agent_cpu_s"], spans),
            "gateways": per_span_us(growth["gateway_cpu_s"], spans),
            "jaeger_per_kept_span": per_span_us(growth["jaeger_cpu_s"], growth["gateway_kept"]),
        },
    }
    return result, after


def step(gateways: int, prometheus: PrometheusClient) -> dict[str, Any]:
    """The rates in turn through ``gateways`` gateways, up to the first the tiers do not keep up with."""
    bring_to(gateways, prometheus)
    offers = []
    counters = settled(prometheus)
    for rate in RATES:
        result, counters = offer(rate, prometheus, counters)
        offers.append(result)
        print(f"  {gateways} gateway(s), {rate:,} spans/s offered: {json.dumps(offers[-1])}", flush=True)
        if not offers[-1]["sustained"]:
            break
    best = max((o for o in offers if o["sustained"]), key=lambda o: o["spans_per_s"], default=None)
    return {"gateways": gateways, "highest_sustained": best, "offers": offers}


def main() -> int:
    results: dict[str, Any] = {"machine": machine(), "smoke": SMOKE, "duration_s": DURATION_S, "steps": []}
    with PrometheusClient() as prometheus:
        for gateways in gateway_counts():
            result = step(gateways, prometheus)
            results["steps"].append(result)
            best = result["highest_sustained"]
            if best is None:
                print(f"{gateways} gateway(s): not even {RATES[0]:,} spans/s sustained", flush=True)
                continue
            cpu = best["cpu_us_per_span"]
            print(
                f"{gateways} gateway(s): {best['spans_per_s']:,} spans/s sustained, kept {best['kept_share']}; "
                f"CPU per span: agent {cpu['agent']} µs, gateways {cpu['gateways']} µs, "
                f"Jaeger {cpu['jaeger_per_kept_span']} µs per kept span",
                flush=True,
            )
        bring_to(max(gateway_counts()), prometheus)  # leave the stack as `make up-scale` made it
    path = ROOT / "bench" / "results" / ("scale-smoke.json" if SMOKE else "scale.json")
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path}")
    return 0 if all(s["highest_sustained"] for s in results["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
