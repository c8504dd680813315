"""The bench, step by step, against the stack's real Collector and Jaeger.

0. ``docker compose down`` then ``docker compose up --wait`` on the built images, timed (BENCH_COMPOSE_UP);
1. the fixed, moderate rate: half of what traced checkout sustains (unless BENCH_FIXED_RATE);
2. rounds of interleaved variants (traced, untraced, zero-code, traced-no-journal; a new order each round), each
   a fresh pair of processes: checkout flat out, inventory alone flat out, checkout at the fixed rate;
   CPU time of each service and of the Collector and Jaeger, RSS after the load;
3. one traced pair: the spans one good checkout makes (read from one trace), how soon after the
   response a trace is whole in Jaeger, then checkout flat out for BENCH_LOSS_S, RSS sampled
   throughout, and every span of that window counted in Jaeger against what the requests must make;
4. one traced pair at the fixed rate for BENCH_SOAK_S, RSS sampled throughout: does memory grow?
"""

from __future__ import annotations

import math
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.jaeger import count_window
from bench.load import CHECKOUT, INVENTORY, Endpoint, LoadResult, run_wrk
from bench.services import ROOT, Pair, process_cpu_s, rss_mb, running_pair
from bench.settings import Settings
from harness.containers import container_field, memory_mb
from harness.processes import ServiceProcess
from traceproof.jaeger import JaegerClient, TraceIncomplete, has_spans, settled
from traceproof.wait import poll

#: The compose services whose CPU time is counted alongside the services' own.
PIPELINE = ("otel-collector", "jaeger", "prometheus")

#: CPU share (of one core) under which the Collector and Jaeger count as idle.
PIPELINE_IDLE_CORES = 0.10
#: The longest wait for them to go idle before a run starts anyway.
PIPELINE_IDLE_WAIT_S = 90.0


def pipeline_pids() -> dict[str, int]:
    """Host pids of the stack's Collector and Jaeger (their CPU time is read from /proc)."""
    return {name: int(container_field(name, "{{.State.Pid}}")) for name in PIPELINE}


def pipeline_memory_mb() -> dict[str, dict[str, float]]:
    """Each pipeline container's memory now (``docker stats``) and its limit (mem_limit), in MB."""
    return {
        name: {
            "used_mb": round(memory_mb(name), 1),
            "limit_mb": round(int(container_field(name, "{{.HostConfig.Memory}}")) / 2**20),
        }
        for name in PIPELINE
    }


def pipeline_restarts() -> dict[str, str]:
    """How often Docker restarted the Collector and Jaeger, and whether the last exit was the OOM killer."""
    return {name: container_field(name, "{{.RestartCount}} restarts, OOM-killed: {{.State.OOMKilled}}") for name in PIPELINE}


def check_stack(settings: Settings) -> None:
    """The Collector and Jaeger answer, or a sentence that says to start them."""
    try:
        httpx.get(f"{settings.jaeger_url}/api/v3/services", timeout=3).raise_for_status()
        # Any answer from the OTLP/HTTP receiver will do (it answers GET with 405).
        httpx.get(f"{settings.endpoints.otlp_endpoint}/v1/traces", timeout=3)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"the stack's Collector or Jaeger is not reachable ({exc}): run `make up`") from exc


def compose_up_s() -> float:
    """Seconds ``docker compose up --wait`` takes on built images, from a stack taken down first.

    ``down`` keeps the named volumes, so Jaeger reopens its stored traces as it
    would after any restart.
    """
    subprocess.run(["docker", "compose", "down", "--remove-orphans"], cwd=ROOT, capture_output=True, check=True)
    started = time.monotonic()
    up = subprocess.run(["docker", "compose", "up", "--wait", "--no-build"], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if up.returncode != 0:
        raise RuntimeError(f"docker compose up --wait failed: {up.stderr.strip()}")
    return round(elapsed, 1)


class Bench:
    def __init__(self, settings: Settings, work_dir: Path) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.pipeline = pipeline_pids()
        self.runs: list[dict[str, Any]] = []
        self.pairs = 0

    def say(self, text: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def wait_for_idle_pipeline(self) -> float:
        """Wait until the Collector and Jaeger are idle; the seconds waited.

        Jaeger compacts its Badger store for a while after heavy writes (tens of
        seconds after a zero-code run); run next, any set-up, even untraced,
        would lose that CPU on two cores and be charged for another's spans.
        """
        started = time.monotonic()

        def cores_busy() -> float:
            before = self._pipeline_cpu()
            time.sleep(1.0)
            return sum(self._pipeline_cpu().values()) - sum(before.values())

        _, idle = poll(cores_busy, lambda cores: cores < PIPELINE_IDLE_CORES, timeout_s=PIPELINE_IDLE_WAIT_S, interval_s=0)
        waited = round(time.monotonic() - started, 1)
        if not idle:
            self.say(f"the Collector and Jaeger were still busy after {waited:g} s; measuring anyway")
        elif waited > 2:
            self.say(f"waited {waited:g} s for the Collector and Jaeger to go idle")
        return waited

    def _pipeline_cpu(self) -> dict[str, float]:
        try:
            return {name: process_cpu_s(pid) for name, pid in self.pipeline.items()}
        except FileNotFoundError:  # restarted (Docker's restart policy): count from its new process
            self.pipeline = pipeline_pids()
            return {name: process_cpu_s(pid) for name, pid in self.pipeline.items()}

    @contextmanager
    def pair(self, variant: str) -> Iterator[Pair]:
        self.pairs += 1
        self.wait_for_idle_pipeline()
        with running_pair(variant, self.settings.endpoints, self.work_dir, f"inventory-{self.pairs}.db") as pair:
            yield pair

    def _cpu(self, pair: Pair) -> dict[str, float]:
        return {**{name: process_cpu_s(service.pid) for name, service in pair.services().items()}, **self._pipeline_cpu()}

    def load(
        self, pair: Pair, endpoint: Endpoint, duration_s: float, delay_ms: float = 0.0
    ) -> tuple[LoadResult, dict[str, float]]:
        """One wrk run, and the CPU seconds each process spent during it."""
        service = pair.services()[endpoint.service]
        before = self._cpu(pair)
        result = run_wrk(service.url, endpoint, duration_s, self.settings.connections, delay_ms)
        after = self._cpu(pair)
        return result, {name: round(max(0.0, after[name] - before[name]), 3) for name in before}

    def record(self, round_no: int, pair: Pair, step: str, result: LoadResult, cpu: dict[str, float]) -> None:
        requests = max(result.requests, 1)
        run = {
            "round": round_no,
            "variant": pair.variant,
            "step": step,
            **result.as_dict(),
            "cpu_s": cpu,
            "cpu_ms_per_request": {name: round(1000 * seconds / requests, 3) for name, seconds in cpu.items()},
        }
        self.runs.append(run)
        self.say(
            f"round {round_no} {pair.variant:<9} {step:<15} {result.rps:8.1f} req/s  "
            f"p50 {result.latency_ms['p50']:.2f} ms  p99 {result.latency_ms['p99']:.2f} ms  "
            f"errors {sum(result.errors.values())}"
        )

    # -- 1. the fixed rate -------------------------------------------------

    def fixed_rate(self) -> float:
        """Half of what traced checkout sustains: moderate for every variant.

        Half the *untraced* maximum would be near the traced maximum, where
        the traced p99 measures queueing, not tracing.
        """
        if self.settings.fixed_rate:
            return self.settings.fixed_rate
        with self.pair("traced") as pair:
            run_wrk(pair.checkout.url, CHECKOUT, self.settings.warmup_s, self.settings.connections)
            result = run_wrk(pair.checkout.url, CHECKOUT, self.settings.duration_s, self.settings.connections)
        rate = round(result.rps / 2, -1) or 10.0
        self.say(f"traced checkout sustains {result.rps:.0f} req/s: the fixed rate is {rate:.0f} req/s")
        return rate

    def delay_ms(self, rate: float) -> float:
        """wrk's pause before each request on each connection, for about ``rate`` requests per second."""
        return 1000 * self.settings.connections / rate

    # -- 2. interleaved rounds ---------------------------------------------

    def rounds(self, rate: float) -> list[dict[str, Any]]:
        """Every variant once per round, in a new order each round; RSS of each pair after its load."""
        memory = []
        variants = list(self.settings.variants)
        delay_ms = self.delay_ms(rate)
        duration = self.settings.duration_s
        for round_no in range(self.settings.rounds):
            order = variants[round_no % len(variants) :] + variants[: round_no % len(variants)]
            for variant in order:
                with self.pair(variant) as pair:
                    run_wrk(pair.checkout.url, CHECKOUT, self.settings.warmup_s, self.settings.connections)
                    self.record(round_no, pair, "checkout", *self.load(pair, CHECKOUT, duration))
                    self.record(round_no, pair, "inventory", *self.load(pair, INVENTORY, duration))
                    self.record(round_no, pair, "checkout-fixed", *self.load(pair, CHECKOUT, duration, delay_ms))
                    memory.append({"round": round_no, "variant": variant, **_rss(pair)})
        return memory

    # -- 3. the traced pair: completeness and freshness ---------------------

    def spans_of_one_checkout(self, pair: Pair, jaeger: JaegerClient) -> list[str]:
        """``service: name`` of every span one good checkout makes, from its trace in Jaeger."""
        trace_id = _checkout(pair.checkout)[0]
        try:
            spans = jaeger.wait_for(trace_id, settled(1.0), timeout_s=20, interval_s=0.1)
        except TraceIncomplete:
            raise RuntimeError(f"trace {trace_id} never reached Jaeger at {jaeger.url}: is the Collector up?") from None
        return sorted(f"{s.service}: {s.name}" for s in spans)

    def time_to_queryable(self, pair: Pair, jaeger: JaegerClient, spans_per_trace: int) -> dict[str, Any]:
        """Seconds from each response to its whole trace in Jaeger, one request at a time.

        The requests are spread at random over the export schedule (up to
        0.3 s apart), so the delays sample every phase of the batching.
        """
        delays = []
        missing = 0
        for _ in range(self.settings.ttq_traces):
            time.sleep(random.uniform(0, 0.3))
            trace_id, answered = _checkout(pair.checkout)
            try:
                jaeger.wait_for(trace_id, has_spans(spans_per_trace), timeout_s=10, interval_s=0.01)
            except TraceIncomplete:
                missing += 1
            else:
                delays.append(time.monotonic() - answered)
        delays.sort()
        return {
            "traces": len(delays),
            "not_whole_within_10_s": missing,
            "p50_s": _quantile(delays, 0.50),
            "p95_s": _quantile(delays, 0.95),
            "max_s": round(delays[-1], 3) if delays else None,
        }

    def span_loss(self) -> dict[str, Any]:
        """Checkout flat out for BENCH_LOSS_S, traced; then every span of the window counted in Jaeger."""
        duration = self.settings.loss_duration_s
        with self.pair("traced") as pair:
            jaeger = JaegerClient(self.settings.jaeger_url, timeout_s=30)
            names = self.spans_of_one_checkout(pair, jaeger)
            spans_per_trace = len(names)
            self.say(f"one good checkout makes {spans_per_trace} spans: {', '.join(names)}")
            freshness = self.time_to_queryable(pair, jaeger, spans_per_trace)
            self.say(f"trace whole in Jaeger: p50 {freshness['p50_s']} s, p95 {freshness['p95_s']} s after the response")
            time.sleep(1.0)
            restarts_before = pipeline_restarts()
            with _sampling_rss(pair, every_s=max(1.0, duration / 12)) as rss_series:
                start = time.time()
                result, cpu = self.load(pair, CHECKOUT, duration)
                end = time.time()
            self.record(-1, pair, "checkout-loss", result, cpu)
            rss_after = _rss(pair)
        # The services are stopped: their last spans are flushed; give the Collector's
        # and Jaeger's batching (200 ms each) time to write them.
        time.sleep(3.0)
        restarts_after = pipeline_restarts()
        memory_after = pipeline_memory_mb()
        self.say("counting the window's spans in Jaeger")
        found = count_window(self.settings.jaeger_url, "bench-checkout", start, end + 2.0)
        expected = result.good_requests * spans_per_trace
        histogram = found.size_histogram()
        # wrk closes its connections at the end; checkout cancels what was in flight
        # (shoptrace.cancellation), so up to one trace per connection ends early, marked.
        short = sum(1 for t, ids in found.spans_by_trace.items() if len(ids) < spans_per_trace and t not in found.cancelled)
        return {
            "duration_s": round(end - start, 1),
            "rps": round(result.rps, 1),
            "good_requests": result.good_requests,
            "errors": result.errors,
            "spans_per_checkout": spans_per_trace,
            "spans_of_a_checkout": names,
            "spans_expected": expected,
            "spans_found": found.spans,
            "traces_found": found.traces,
            "traces_short_of_spans": short,
            "traces_cancelled_by_client": len(found.cancelled),
            "traces_by_span_count": histogram,
            # Requests still in flight when wrk stopped were answered (and traced) but not
            # counted by wrk: up to one per connection, so a few spans more than expected.
            "spans_lost": max(0, expected - found.spans),
            # The SDK's own word on what it dropped or failed to send, from the services' logs.
            "sdk_drop_warnings": _log_lines(pair, "dropping"),
            "sdk_export_failures": _log_lines(pair, "Failed to export"),
            "pipeline_restarts": {"before": restarts_before, "after": restarts_after},
            "pipeline_memory_after": memory_after,
            "rss_mb_after": rss_after,
            "rss_mb_series": rss_series,
            "time_to_queryable": freshness,
        }

    # -- 4. the soak: memory over time -------------------------------------

    def soak(self, rate: float) -> dict[str, Any]:
        """Traced checkout at the fixed rate for BENCH_SOAK_S; RSS of both services sampled throughout.

        Growth is measured from the first sample after the first tenth of the
        run (at most 60 s: caches and the allocator's arenas fill first) to the last.
        """
        duration = self.settings.soak_s
        every_s = max(1.0, min(30.0, duration / 20))
        with self.pair("traced") as pair:
            run_wrk(pair.checkout.url, CHECKOUT, self.settings.warmup_s, self.settings.connections)
            with _sampling_rss(pair, every_s) as series:
                result, cpu = self.load(pair, CHECKOUT, duration, self.delay_ms(rate))
            self.record(-1, pair, "checkout-soak", result, cpu)
        settled = [s for s in series if s["t_s"] >= min(60.0, duration / 10)]
        growth = None
        if len(settled) >= 2:
            growth = {name: round(settled[-1][name] - settled[0][name], 1) for name in ("checkout", "inventory")}
        self.say(f"soak: {result.requests} requests in {duration:g} s, RSS growth {growth} MB")
        return {
            "duration_s": duration,
            "rps": round(result.rps, 1),
            "requests": result.requests,
            "errors": result.errors,
            "rss_growth_mb": growth,
            "growth_from_t_s": settled[0]["t_s"] if settled else None,
            "rss_mb_series": series,
        }


def _checkout(service: ServiceProcess) -> tuple[str, float]:
    """One good order; its trace id and when the answer came (monotonic seconds)."""
    response = httpx.post(f"{service.url}{CHECKOUT.path}", content=CHECKOUT.body,
                          headers={"content-type": "application/json"}, timeout=5)  # fmt: skip
    answered = time.monotonic()
    response.raise_for_status()
    trace_id = response.json()["trace_id"]
    if not trace_id:
        raise RuntimeError("checkout answered no trace_id: is it traced?")
    return trace_id, answered


def _log_lines(pair: Pair, text: str) -> dict[str, int]:
    return {
        name: sum(
            text in line
            for path in (service.stdout_path, service.stderr_path)
            for line in path.read_text(errors="replace").splitlines()
        )
        for name, service in pair.services().items()
    }


def _rss(pair: Pair) -> dict[str, float]:
    return {name: round(rss_mb(service), 1) for name, service in pair.services().items()}


@contextmanager
def _sampling_rss(pair: Pair, every_s: float) -> Iterator[list[dict[str, float]]]:
    """RSS of both services every ``every_s`` while the block runs, to show whether it grows."""
    series: list[dict[str, float]] = []
    stop = threading.Event()
    started = time.monotonic()

    def sample() -> None:
        while not stop.wait(every_s):
            series.append({"t_s": round(time.monotonic() - started, 1), **_rss(pair)})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield series
    finally:
        stop.set()
        sampler.join()


def _quantile(sorted_values: list[float], q: float) -> float | None:
    """The nearest-rank quantile: a value that was measured."""
    if not sorted_values:
        return None
    index = max(0, math.ceil(q * len(sorted_values)) - 1)
    return round(sorted_values[index], 3)
