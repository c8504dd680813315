"""``make bench`` / ``python -m bench``: what tracing costs, measured against the stack's Collector and Jaeger.

Writes the results (JSON) and their plot (PNG) to bench/results/: latest.*
for a full run, smoke.* for BENCH_SMOKE=1 (a few seconds per step, to keep
the bench working in CI; it asserts nothing about speed). See
docs/performance.md for every BENCH_* setting.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.load import ensure_wrk
from bench.machine import machine
from bench.plot import plot
from bench.run import PIPELINE, Bench, check_stack, compose_up_s
from bench.settings import Settings
from bench.summary import summarize, targets


def print_table(results: dict[str, Any]) -> None:
    for step, per_variant in results["summary"]["steps"].items():
        for variant, cell in per_variant.items():
            lat = cell["latency_ms"]
            print(
                f"{step:<15} {variant:<17} {cell['rps']:8.1f} req/s   "
                f"p50 {lat['p50']:7.2f}  p99 {lat['p99']:7.2f}  p99.9 {lat['p99_9']:7.2f} ms"
            )
    for name, value in results["summary"]["ratios"].items():
        print(f"{name:<40} {value}")
    # What the pipeline spends per order at checkout's highest sustained throughput (traced, flat out).
    flat_out = results["summary"]["steps"].get("checkout", {}).get("traced")
    if flat_out:
        pipeline = {name: ms for name, ms in flat_out["cpu_ms_per_request"].items() if name in PIPELINE}
        print("pipeline CPU per order, checkout flat out, traced: " + ", ".join(f"{n} {ms:.3f} ms" for n, ms in pipeline.items()))
    for row in results["targets"]:
        verdict = {True: "met", False: "NOT MET", None: "not measured"}[row["met"]]
        print(f"{verdict:<12} {row['target']}: {row['measured']} (goal {row['goal']})")


def main() -> int:
    settings = Settings.from_env()
    ensure_wrk()
    started = time.monotonic()
    up_s = None
    if settings.compose_up:
        up_s = compose_up_s()
        print(f"docker compose up --wait: {up_s:g} s", flush=True)
    check_stack(settings)
    with tempfile.TemporaryDirectory(prefix="shoptrace-bench-") as work:
        bench = Bench(settings, Path(work))
        rate = bench.fixed_rate()
        memory = bench.rounds(rate)
        try:
            loss: dict[str, Any] | None = bench.span_loss()
            failure = None
        except Exception as exc:  # keep what the rounds measured; say what failed
            loss, failure = None, f"{type(exc).__name__}: {exc}"
            print(f"the span-loss step failed: {failure}", file=sys.stderr)
        soak = bench.soak(rate) if settings.soak_s else None
    summary = summarize(bench.runs, settings.variants)
    results = {
        "machine": machine(),
        "settings": settings.as_dict(),
        "fixed_rate_rps": rate,
        "wall_time_s": round(time.monotonic() - started, 1),
        "summary": summary,
        "targets": targets(summary, loss, memory, soak, up_s),
        "compose_up_wait_s": up_s,
        "span_loss": loss if loss is not None else {"failed": failure},
        "soak": soak,
        "rss_mb_after_load": memory,
        "runs": bench.runs,
    }
    settings.results.parent.mkdir(parents=True, exist_ok=True)
    settings.results.write_text(json.dumps(results, indent=2) + "\n")
    png = settings.results.with_suffix(".png")
    plot(results, png)
    print_table(results)
    print(f"results: {settings.results}\nplot:    {png}\n({results['wall_time_s']:g} s)")
    return 0 if loss is not None else 1


if __name__ == "__main__":
    sys.exit(main())
