"""``make bench-doctor``: how long the doctor takes over a window of many traces, and how much memory it needs.

It drives checkout with ``make load``'s default mix until the window holds
BENCH_DOCTOR_TRACES orders (10,000; 300 with BENCH_SMOKE=1), waits until
Jaeger holds the last of them, then runs the doctor as a person runs it (a
child process, ``--json``) over the first quarter, the first half and the
whole of the window. For each it records the wall time and the child's own
peak RSS (``os.wait4``), so the figures say how time and memory grow with the
window: the doctor holds every span of the window (it joins pieces across
traces), and nothing more should grow with it.

The Collector also writes every span to a file (its ``file`` exporter): the
same three windows are then judged from a copy of that file
(``--otlp-file``), so reading Jaeger and reading the file are measured side
by side, and the verdicts must agree. The previous results' whole-window
figures are kept beside the new ones, as ``previous``, to compare.

Writes bench/results/doctor.json (doctor-smoke.json for a smoke run); the
figures are in docs/doctor.md. It asserts nothing about speed.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.machine import machine
from bench.services import ROOT
from explore.load import DEFAULT_MIX, parse_mix, run
from traceproof.errors import TraceNotFound
from traceproof.jaeger import JaegerClient, has_spans
from traceproof.sources import OtlpFileSource
from traceproof.wait import poll

CHECKOUT_URL = os.environ.get("CHECKOUT_URL", "http://localhost:8080")
JAEGER_URL = os.environ.get("JAEGER_URL", "http://localhost:16686")
RESULTS = ROOT / "bench" / "results"
#: Orders per second: well under what checkout sustains in the stack (docs/performance.md).
RATE = float(os.environ.get("BENCH_DOCTOR_RATE", "50"))
#: The share of the window each run reads, smallest first.
SHARES = (0.25, 0.5, 1.0)


def iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / 1e9, UTC).isoformat()


def drive(orders: int) -> tuple[int, int, list[str]]:
    """Send ``orders`` orders at RATE; the window's start and end, and the trace ids of the orders."""
    start_ns = time.time_ns()
    results = asyncio.run(
        run(CHECKOUT_URL, orders / RATE, RATE, parse_mix(DEFAULT_MIX), 200, 10.0, 11, Console(file=io.StringIO()))
    )
    end_ns = time.time_ns()
    return start_ns, end_ns, [r.trace_id for r in results if r.trace_id]


def doctor_run(start_ns: int, end_ns: int, work: Path, source: list[str]) -> dict[str, Any]:
    """One doctor run over ``[start_ns, end_ns]`` from ``source`` (its options): its wall time, its peak RSS, and what it read."""
    out, err = work / "doctor.json", work / "doctor.err"
    command = [sys.executable, "-m", "traceproof", "doctor", "--json", *source]
    command += ["--since", iso(start_ns), "--until", iso(end_ns)]
    with out.open("w") as stdout, err.open("w") as stderr:
        began = time.monotonic()
        child = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall_s = time.monotonic() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"the doctor exited {child.returncode}: {err.read_text()[-2000:]}")
    report = json.loads(out.read_text())
    return {
        "window_s": round((end_ns - start_ns) / 1e9, 1),
        "traces": report["traces_checked"],
        "spans": report["window"]["spans"],
        "searches": report["window"]["searches"],
        "breaks": [(b["kind"], b["service"], b["count"]) for b in report["breaks"]],
        "waited_s": report["lost_parents"]["waited_s"],
        "wall_s": round(wall_s, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
    }


def collector_file(work: Path, trace_ids: list[str], timeout_s: float = 60) -> Path:
    """A copy of the Collector's file exporter folder, once it holds ``trace_ids`` (it flushes every second)."""

    def copied() -> bool:
        subprocess.run(["docker", "compose", "cp", "otel-collector:/var/lib/otelcol/traces", str(work)], cwd=ROOT, check=True)
        source = OtlpFileSource(work / "traces")
        try:
            for trace_id in trace_ids:
                source.trace(trace_id)
        except TraceNotFound:
            return False
        return True

    if not poll(copied, bool, timeout_s, interval_s=1.0)[1]:
        raise TraceNotFound(f"the Collector's file holds not all of {trace_ids} after {timeout_s:g} s")
    return work / "traces"


def main() -> int:
    smoke = os.environ.get("BENCH_SMOKE") == "1"
    orders = int(os.environ.get("BENCH_DOCTOR_TRACES", "300" if smoke else "10000"))
    print(f"driving {orders:,} orders at {RATE:g}/s ({orders / RATE:.0f} s)", flush=True)
    start_ns, end_ns, trace_ids = drive(orders)
    jaeger = JaegerClient(JAEGER_URL)
    for trace_id in trace_ids[-20:]:  # each service exports in order: once the last are in, so are the rest
        jaeger.wait_for(trace_id, has_spans(1), timeout_s=60)
    runs: list[dict[str, Any]] = []
    file_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="shoptrace-bench-doctor-") as work:
        folder = collector_file(Path(work), trace_ids[-20:])
        file_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
        for share in SHARES:
            until_ns = start_ns + round((end_ns - start_ns) * share)
            for source, kept in ((["--jaeger", JAEGER_URL], runs), (["--otlp-file", str(folder)], file_runs)):
                result = doctor_run(start_ns, until_ns, Path(work), source)
                kept.append(result)
                print(
                    f"{source[0]:>11} {result['traces']:>7,} traces {result['spans']:>9,} spans  {result['wall_s']:6.1f} s  "
                    f"peak RSS {result['peak_rss_mb']:7.1f} MB  breaks {result['breaks'] or 'none'}",
                    flush=True,
                )
    for jaeger_run, file_run in zip(runs, file_runs, strict=True):
        if (jaeger_run["traces"], jaeger_run["breaks"]) != (file_run["traces"], file_run["breaks"]):
            raise RuntimeError(f"the Collector's file and Jaeger disagree: {jaeger_run} against {file_run}")
    small, large = runs[0], runs[-1]
    per_span_kb = (large["peak_rss_mb"] - small["peak_rss_mb"]) * 1024 / max(1, large["spans"] - small["spans"])
    per_1000_traces_s = large["wall_s"] / max(1, large["traces"]) * 1000
    print(f"memory per span held: {per_span_kb:.2f} KB; time per 1,000 traces: {per_1000_traces_s:.1f} s")
    path = RESULTS / ("doctor-smoke.json" if smoke else "doctor.json")
    previous = json.loads(path.read_text()) if path.exists() else None
    results = {
        "machine": machine(),
        "orders": orders,
        "rate": RATE,
        "mix": DEFAULT_MIX,
        "runs": runs,
        "memory_per_span_kb": round(per_span_kb, 2),
        "seconds_per_1000_traces": round(per_1000_traces_s, 2),
        "collector_file": {"megabytes": round(file_mb, 1), "runs": file_runs},
        "previous": previous
        and {"commit": previous["machine"]["commit"], "when": previous["machine"]["when"], "whole_window": previous["runs"][-1]},
    }
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
