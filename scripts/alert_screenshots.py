"""The watch's pictures (docs/doctor.md), from a real run: Prometheus's graph of breaks per edge and its alerts page.

Runs ``make pitfalls EXPORT=1`` against the running stack twice, a minute
and a half apart (each broken pitfall's traces reach the Collector, the
stack's ``traceproof watch`` counts their breaks per edge, Prometheus scrapes
it and evaluates prometheus/rules/trace-integrity.yml), waits until
``TraceBreaks`` fires for each pitfall's edge, then pictures, in Prometheus's
own web UI, ``traceproof_breaks_total`` per edge over the last 15 minutes
and the alerts page with ``TraceBreaks`` opened.

    python -m scripts.alert_screenshots docs/img      (make screenshots runs it)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import httpx

from harness.jaeger_ui import VIEWPORT, chromium
from traceproof.wait import poll

PROMETHEUS_URL = os.environ.get("PROMETHEUS_URL", "http://localhost:9090")
COLLECTOR_OTLP_URL = "http://127.0.0.1:4318"
ROOT = Path(__file__).resolve().parent.parent
#: What the graph draws: each edge's breaks as the watcher counted them.
EXPR = "sum by (kind, service, peer) (traceproof_breaks_total)"
#: From the last broken request to firing (prometheus/rules/trace-integrity.yml: about 2.5 minutes), with room.
FIRING_WITHIN_S = 6 * 60


def pitfalls() -> None:
    """``make pitfalls EXPORT=1``: every pitfall, broken and fixed, its spans sent to the stack's Collector."""
    env = {**os.environ, "PITFALLS_EXPORT": "1", "OTEL_EXPORTER_OTLP_ENDPOINT": COLLECTOR_OTLP_URL}
    subprocess.run([sys.executable, "-m", "examples.pitfalls"], cwd=ROOT, env=env, check=True, capture_output=True)


def counted() -> float:
    """Every break the watcher counted, as Prometheus last scraped it."""
    result = httpx.get(f"{PROMETHEUS_URL}/api/v1/query", params={"query": f"sum({EXPR})"}, timeout=10).json()
    return sum(float(r["value"][1]) for r in result["data"]["result"])


def firing_edges() -> set[tuple[str, str, str]]:
    alerts = httpx.get(f"{PROMETHEUS_URL}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    return {
        (a["labels"]["kind"], a["labels"]["service"], a["labels"].get("peer", ""))
        for a in alerts
        if a["labels"]["alertname"] == "TraceBreaks" and a["state"] == "firing"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    for run in (1, 2):  # two runs, each once the last is counted: the graph shows each edge step up twice
        before = counted()
        pitfalls()
        _, grown = poll(counted, lambda n, before=before: n > before, timeout_s=FIRING_WITHIN_S)
        if not grown:
            raise SystemExit(f"run {run}: no break counted in Prometheus {FIRING_WITHIN_S} s after the pitfalls ran")
    edges, fired = poll(firing_edges, lambda e: len(e) >= 4, timeout_s=FIRING_WITHIN_S, interval_s=5)
    if not fired:
        raise SystemExit(f"TraceBreaks fired for {sorted(edges)} only, {FIRING_WITHIN_S} s after the pitfalls ran")

    with chromium() as browser:
        # Taller than the UI tests' pages: the graph's legend holds an entry per edge.
        page = browser.new_page(viewport={"width": VIEWPORT["width"], "height": 1100})
        # Stacked: edges with the same counts would hide one another as lines.
        query = urlencode({"g0.expr": EXPR, "g0.tab": "graph", "g0.range_input": "5m", "g0.display_mode": "stacked"})
        page.goto(f"{PROMETHEUS_URL}/query?{query}")
        # The page polls as it runs (never idle): wait for what is pictured, the legend of a pitfall's edge.
        page.get_by_text("pitfalls-mailer").first.wait_for()
        page.mouse.move(VIEWPORT["width"] - 10, 10)  # no tooltip over the graph
        page.screenshot(path=out / "prometheus-breaks.png")

        page.goto(f"{PROMETHEUS_URL}/alerts")
        page.get_by_text("TraceBreaks", exact=True).click()
        # The rule's panel scrolls: its firing instances, one per edge, below the rule's text.
        instance = page.get_by_text("pitfalls-mailer").first
        instance.wait_for()
        instance.scroll_into_view_if_needed()
        page.screenshot(path=out / "prometheus-alerts.png")
    for name in ("prometheus-breaks.png", "prometheus-alerts.png"):
        print(out / name)
    print("firing: " + ", ".join(f"{k} {s} -> {p}" for k, s, p in sorted(edges)))


if __name__ == "__main__":
    main()
