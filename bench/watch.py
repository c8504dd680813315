"""``make bench-watch``: the span rate one ``traceproof watch`` keeps up with, what it costs, and its load on Jaeger.

**Rates.** The default mix drives the stack for SAMPLE_S; the Collector's file
of that time, kept to its whole traces, is replayed (bench/replay.py) into a
folder laid out as the Collector's, at the sample's rate times 1, 2, 4, 8...
For each rate a watcher runs as the stack runs it (``python -m traceproof
watch --otlp-file``, the stack's schedule: every 10 s, settle 30 s,
late-after 60 s), its ``--max-spans`` raised to hold the rate's retention.
The folder first gets a retention's worth of spans (so the watcher holds, at
once, what it holds in a steady run), then spans as they fall due. Once it
has caught up (the backlog read, the windows it fell behind by meanwhile:
its lag back within settle + every), LIVE_S are measured: its
CPU time (/proc), its memory (RSS), its own gauges (lag, each second), what
it dropped and failed, the breaks it counted (none: whole traces). A rate is
kept up with when no tick overran its period (the lag stayed within settle +
every) and nothing was dropped; the sweep stops at the first that is not.

**Jaeger's load.** Under a steady load of the default mix (LOAD_RATE orders/s,
the e2e tests' rate), Jaeger's and the Collector's CPU over PHASE_S each:
without a watcher; with the stack's (it reads the Collector's file, never
Jaeger); with a watcher reading Jaeger's API instead, on the same schedule
(the design not chosen, measured to show what it would cost).

Writes bench/results/watch.json (watch-smoke.json with BENCH_SMOKE=1: the
first rate only, briefly, on a short schedule). It asserts nothing about
speed; the figures are in docs/doctor.md.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from bench.doctor import CHECKOUT_URL, JAEGER_URL, RESULTS, collector_file
from bench.machine import machine
from bench.replay import Replay, Sample, sample
from bench.services import ROOT, process_cpu_s
from explore.load import DEFAULT_MIX, parse_mix, run
from harness.containers import container_field
from harness.processes import NotHealthy, free_port, wait_healthy
from traceproof import watch as w
from traceproof.wait import poll
from traceproof.window import MAX_SPANS

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
#: Orders per second of the sample and of Jaeger's load: the e2e tests' clean load.
LOAD_RATE = 20.0
SAMPLE_S = 10.0 if SMOKE else 40.0
#: Seconds measured at each rate, after the watcher's first two ticks.
LIVE_S = 10.0 if SMOKE else 60.0
#: Multiples of the sample's rate, tried in order until one is not kept up with.
COPIES = (1,) if SMOKE else (1, 2, 4, 8, 12, 16, 24, 32)
#: Seconds of each of Jaeger's three phases.
PHASE_S = 20.0 if SMOKE else 60.0
ROUNDS = 1 if SMOKE else 2
SEED = 27
#: Where the stack's trace-watch answers on the host (docker-compose.yml).
STACK_WATCHER_PORT = 9466


#: The stack's schedule (docker-compose.yml's trace-watch: the watcher's defaults); a short one for the smoke.
SCHEDULE = w.Settings(every_s=2, settle_s=4, late_after_s=6, context_s=2, max_window_s=4) if SMOKE else w.Settings()


def schedule_options(settings: w.Settings) -> list[str]:
    """``traceproof watch``'s options for ``settings``' schedule."""
    return [
        f"--every={settings.every_s:g}s",
        f"--settle={settings.settle_s:g}s",
        f"--late-after={settings.late_after_s:g}s",
        f"--context={settings.context_s:g}s",
        f"--max-window={settings.max_window_s:g}s",
    ]


def say(text: str) -> None:
    print(f"[bench-watch {time.strftime('%H:%M:%S')}] {text}", flush=True)


def gauges(port: int) -> dict[str, float]:
    """The watcher's metrics now, by sample name (labels summed)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[s.name] = found.get(s.name, 0.0) + s.value
    return found


def rss_mb(pid: int) -> dict[str, float]:
    """The process's resident memory now and at its highest (VmRSS, VmHWM), in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {name: round(int(fields[key].split()[0]) / 1024, 1) for name, key in (("now", "VmRSS"), ("peak", "VmHWM"))}


@contextmanager
def watcher(source: list[str], max_spans: int, log: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m traceproof watch`` on ``source`` with the schedule; its process and port, once /healthz answers
    (a window tried: the first tick)."""
    port = free_port()
    command = [sys.executable, "-m", "traceproof", "watch", *source, f"--listen=127.0.0.1:{port}"]
    command += [*schedule_options(SCHEDULE), f"--max-spans={max_spans}"]
    with log.open("ab") as out:
        child = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_healthy(f"http://127.0.0.1:{port}", timeout_s=2 * SCHEDULE.every_s + 60, process=child)
        except NotHealthy as exc:
            raise RuntimeError(f"the watcher {exc}: {log.read_text()[-2000:]}") from None
        yield child, port
    finally:
        child.terminate()
        child.wait(timeout=30)


# -- rates -----------------------------------------------------------------------------


def _replay(smp: Sample, copies: int, path: Path, begin_ns: int, until_ns: int, ready: Any) -> None:
    """The writer, in a process of its own (its CPU is not the watcher's): the backlog at once, then as due."""
    replay = Replay(smp, copies, path, begin_ns, SEED + copies)
    replay.write_until(time.time_ns())
    ready.set()
    replay.run(until_ns)


def one_rate(smp: Sample, copies: int, work: Path) -> dict[str, Any]:
    """The watcher at ``copies`` times the sample's rate: what it spent, held and how far behind it ran."""
    rate = smp.spans_per_s * copies
    held = rate * SCHEDULE.retention_s
    max_spans = round(held * 1.5)  # the rate's retention, with room: nothing dropped because of the budget alone
    folder = work / f"x{copies}"
    folder.mkdir()
    # Long enough for the backlog's tick (at 200 µs a span held: slower than any rate kept up with) and the
    # catch-up after it (a few ticks).
    budget_s = 6 * SCHEDULE.every_s + held * 200e-6 + 60
    now = time.time_ns()
    # Writing on through the catch-up and LIVE_S, however long the catch-up took within its budget.
    writing_until = now + round((budget_s + LIVE_S + 10) * 1e9)
    ctx = get_context("fork")
    ready = ctx.Event()
    writer = ctx.Process(
        target=_replay,
        args=(smp, copies, folder / "traces.jsonl", now - round(SCHEDULE.retention_s * 1e9), writing_until, ready),
    )
    writer.start()
    try:
        _, began = poll(lambda: ready.is_set() or not writer.is_alive(), bool, timeout_s=300)
        if not ready.is_set():
            raise RuntimeError(f"the writer wrote no backlog ({'exited' if began else 'in 300 s'})")
        with watcher(["--otlp-file", str(folder)], max_spans, work / "watch.log") as (child, port):
            # The backlog's tick, then as many as it takes to catch up (the lag back within settle + every), then
            # the live part. One that never catches up within the budget does not keep up with the rate.
            limit = SCHEDULE.settle_s + SCHEDULE.every_s

            def lag() -> float:
                found = gauges(port)
                return found["traceproof_lag_seconds"] if found.get("traceproof_windows_judged_total") else float("inf")

            started = time.monotonic()
            last, caught_up = poll(lag, lambda s: s <= limit, budget_s, interval_s=1.0)
            if not caught_up:
                say(f"  not caught up after {budget_s:g} s (lag {last:g} s)")
                return {"copies": copies, "spans_per_s": round(rate), "kept_up": False, "caught_up_s": None}
            catch_up_s = round(time.monotonic() - started, 1)
            return {**_measure(child, port, rate, held, max_spans, copies), "caught_up_s": catch_up_s}
    finally:
        writer.terminate()
        writer.join()
        shutil.rmtree(folder, ignore_errors=True)


def _measure(child: subprocess.Popen[bytes], port: int, rate: float, held: float, max_spans: int, copies: int) -> dict[str, Any]:
    before, cpu_before, began = gauges(port), process_cpu_s(child.pid), time.monotonic()
    lags: list[float] = []
    while time.monotonic() - began < LIVE_S:  # a sample a second: the lag gauge changes once a tick
        lags.append(gauges(port)["traceproof_lag_seconds"])
        time.sleep(1.0)
    after, cpu_s, wall_s = gauges(port), process_cpu_s(child.pid) - cpu_before, time.monotonic() - began
    spans = rate * wall_s

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    limit = SCHEDULE.settle_s + SCHEDULE.every_s
    result = {
        "copies": copies,
        "spans_per_s": round(rate),
        "traces_per_s": round(grew("traceproof_traces_judged_total") / wall_s, 1),
        "cpu_cores": round(cpu_s / wall_s, 3),
        "cpu_ms_per_1000_spans": round(cpu_s / spans * 1e6, 2),
        "rss_mb": rss_mb(child.pid),
        "spans_held_expected": round(held),
        "max_spans": max_spans,
        "lag_s": {"max": round(max(lags), 1), "last": round(lags[-1], 1), "limit": limit},
        "spans_dropped": int(after.get("traceproof_spans_dropped_total", 0)),
        "windows_failed": int(after.get("traceproof_windows_failed_total", 0)),
        "breaks": int(after.get("traceproof_breaks_total", 0)),
    }
    result["kept_up"] = max(lags) <= limit and result["spans_dropped"] == 0 and result["windows_failed"] == 0
    return result


def rates(smp: Sample, work: Path) -> list[dict[str, Any]]:
    found = []
    for copies in COPIES:
        say(f"{smp.spans_per_s * copies:,.0f} spans/s ({copies} x the sample)")
        result = one_rate(smp, copies, work)
        if "cpu_cores" in result:
            say(
                f"  {'kept up' if result['kept_up'] else 'NOT kept up'}: {result['cpu_cores']:.2f} cores, "
                f"{result['cpu_ms_per_1000_spans']} ms CPU per 1,000 spans, RSS {result['rss_mb']['now']} MB, "
                f"lag max {result['lag_s']['max']} s, dropped {result['spans_dropped']}, breaks {result['breaks']}"
            )
        found.append(result)
        if not result["kept_up"]:
            break
    return found


# -- Jaeger's load ---------------------------------------------------------------------


def _pid(service: str) -> int:
    return int(container_field(service, "{{.State.Pid}}"))


def _compose(*args: str) -> None:
    subprocess.run(["docker", "compose", *args], cwd=ROOT, check=True, capture_output=True)


def tree_cpu_s(pid: int) -> float:
    """The CPU time of ``pid`` and its descendants (a container's init and the process it runs)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return process_cpu_s(pid) + sum(tree_cpu_s(int(child)) for child in children)


def phase(way: str, pids: dict[str, int]) -> dict[str, Any]:
    """The cores ``pids`` spent over PHASE_S (pacing the measurement: a fixed span of time is what is measured)."""
    before, began = {n: tree_cpu_s(p) for n, p in pids.items()}, time.monotonic()
    time.sleep(PHASE_S)
    wall_s = time.monotonic() - began
    cores = {n: round((tree_cpu_s(p) - before[n]) / wall_s, 3) for n, p in pids.items()}
    say(f"  {WAYS[way]}: " + ", ".join(f"{n} {c:.3f} cores" for n, c in cores.items()))
    return {"way": way, "phase": WAYS[way], "seconds": round(wall_s, 1), "cores": cores}


#: The three ways of Jaeger's load, each measured once a round: a short key (the results'), what it is.
WAYS = {
    "none": "no watcher",
    "file": "the stack's watcher (the Collector's file)",
    "api": "a watcher reading Jaeger's API",
}


def jaeger_load(work: Path) -> dict[str, Any]:
    """Jaeger's and the Collector's CPU without a watcher, with the stack's, and with one reading Jaeger instead.

    Round after round, so that Badger's compactions (they come when they
    will, and only add) fall in one way's phase no more than another's; each
    way's figure is its least over the rounds.
    """
    say(f"Jaeger's load: {LOAD_RATE:g} orders/s, {PHASE_S:g} s a phase, {ROUNDS} rounds")
    stop = threading.Event()
    load = threading.Thread(target=_steady_load, args=(stop,), daemon=True)
    load.start()
    phases = []
    try:
        _compose("stop", "trace-watch")
        time.sleep(SCHEDULE.settle_s + SCHEDULE.context_s)  # the load fills a window before anything is measured
        pids = {"jaeger": _pid("jaeger"), "otel-collector": _pid("otel-collector")}
        for _ in range(ROUNDS):
            phases.append(phase("none", pids))
            _compose("start", "trace-watch")
            first_tick(STACK_WATCHER_PORT)  # its backlog read (the file since the volume began) is not what is measured
            phases.append(phase("file", {**pids, "trace-watch": _pid("trace-watch")}))
            _compose("stop", "trace-watch")
            with watcher(["--jaeger", JAEGER_URL], MAX_SPANS, work / "watch-jaeger.log") as (child, port):
                first_tick(port)
                phases.append(phase("api", {**pids, "trace-watch": child.pid}))
    finally:
        stop.set()
        load.join()
        _compose("start", "trace-watch")
    least = {
        way: {name: min(p["cores"][name] for p in phases if p["way"] == way) for name in phases[i]["cores"]}
        for i, way in enumerate(WAYS)
    }
    return {"orders_per_s": LOAD_RATE, "phases": phases, "least": least}


def first_tick(port: int) -> None:
    """Wait for the watcher on ``port`` to have judged its first window: a tick comes every period."""

    def judged() -> float:
        try:
            return gauges(port).get("traceproof_windows_judged_total", 0)
        except httpx.TransportError:
            return 0

    _, done = poll(judged, lambda n: n >= 1, timeout_s=2 * SCHEDULE.every_s + 60)
    if not done:
        raise RuntimeError(f"the watcher on port {port} judged no window in {2 * SCHEDULE.every_s + 60:g} s")


def _steady_load(stop: threading.Event) -> None:
    """The default mix at LOAD_RATE, a minute at a time, until ``stop``."""
    while not stop.is_set():
        asyncio.run(run(CHECKOUT_URL, 60, LOAD_RATE, parse_mix(DEFAULT_MIX), 200, 10.0, SEED, Console(file=io.StringIO())))


# -- main ------------------------------------------------------------------------------


def take_sample(work: Path) -> Sample:
    say(f"sampling the stack: the default mix at {LOAD_RATE:g} orders/s for {SAMPLE_S:g} s")
    start_ns = time.time_ns()
    results = asyncio.run(
        run(CHECKOUT_URL, SAMPLE_S, LOAD_RATE, parse_mix(DEFAULT_MIX), 200, 10.0, SEED, Console(file=io.StringIO()))
    )
    end_ns = time.time_ns()
    folder = collector_file(work, [r.trace_id for r in results if r.trace_id][-20:])
    smp = sample(folder, start_ns, end_ns)  # every order was answered: a trace it missed part of is not whole
    shutil.rmtree(folder)
    if not smp.templates:
        raise RuntimeError(f"no whole trace in the Collector's file between {start_ns} and {end_ns}")
    say(f"  {smp.trace_ids} whole traces, {smp.spans} spans, {smp.spans_per_s:,.0f} spans/s")
    return smp


def bytes_per_span(low: dict[str, Any], high: dict[str, Any] | None) -> int | None:
    """What one more span held costs in memory: the RSS's growth between two rates over the spans held's."""
    if high is None or high["spans_held_expected"] <= low["spans_held_expected"]:
        return None
    grown_mb = float(high["rss_mb"]["now"] - low["rss_mb"]["now"])
    return round(grown_mb * 2**20 / (high["spans_held_expected"] - low["spans_held_expected"]))


def on_paper(best: dict[str, Any] | None, per_span: int | None, rate: float = 100_000) -> dict[str, Any] | None:
    """What ``rate`` spans/s would take, from the highest rate kept up with: cores, memory held, watchers."""
    if best is None or per_span is None:
        return None
    return {
        "cores": round(rate * best["cpu_ms_per_1000_spans"] / 1e6, 1),
        "held_gb": round(rate * SCHEDULE.retention_s * per_span / 1e9, 1),
        "watchers": math.ceil(rate / best["spans_per_s"]),
    }


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="shoptrace-bench-watch-") as tmp:
        work = Path(tmp)
        smp = take_sample(work)
        found = rates(smp, work)
        jaeger = jaeger_load(work)
    kept = [r for r in found if r["kept_up"]]
    best = kept[-1] if kept else None
    results = {
        "machine": machine(),
        "schedule": {
            "every_s": SCHEDULE.every_s,
            "settle_s": SCHEDULE.settle_s,
            "late_after_s": SCHEDULE.late_after_s,
            "context_s": SCHEDULE.context_s,
            "max_window_s": SCHEDULE.max_window_s,
            "retention_s": SCHEDULE.retention_s,
        },
        "sample": {"traces": smp.trace_ids, "spans": smp.spans, "spans_per_s": round(smp.spans_per_s), "mix": DEFAULT_MIX},
        "live_s": LIVE_S,
        "rates": found,
        "highest_kept_up": best,
        "first_not_kept_up": next((r for r in found if not r["kept_up"]), None),
        "bytes_per_span_held": bytes_per_span(found[0], best),
        "at_100k_spans_per_s": on_paper(best, bytes_per_span(found[0], best)),
        "jaeger_load": jaeger,
        "seconds": round(time.monotonic() - started),
    }
    path = RESULTS / ("watch-smoke.json" if SMOKE else "watch.json")
    path.write_text(json.dumps(results, indent=2) + "\n")
    say(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
