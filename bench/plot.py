"""The PNG of a results file: throughput and latency percentiles, traced against untraced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

from bench.summary import LATENCIES  # noqa: E402

COLOURS = {"untraced": "#9e9e9e", "traced-no-journal": "#17becf", "traced": "#1f77b4", "zero-code": "#ff7f0e"}
TITLES = {
    "checkout": "checkout flat out (8 connections)",
    "inventory": "inventory alone flat out",
    "checkout-fixed": "checkout at a fixed, moderate rate",
}


def plot(results: dict[str, Any], path: Path) -> None:
    steps = results["summary"]["steps"]
    variants = [v for v in COLOURS if any(v in per for per in steps.values())]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.6), gridspec_kw={"width_ratios": [1.1, 1, 1, 1]})

    throughput = axes[0]
    names = [s for s in ("checkout", "inventory") if steps.get(s)]
    width = 0.8 / len(variants)
    for i, variant in enumerate(variants):
        xs = [n + (i - (len(variants) - 1) / 2) * width for n in range(len(names))]
        cells = [steps[s].get(variant) for s in names]
        heights = [c["rps"] if c else 0 for c in cells]
        spread = [[c["rps"] - c["rps_min"] if c else 0 for c in cells], [c["rps_max"] - c["rps"] if c else 0 for c in cells]]
        bars = throughput.bar(xs, heights, width, yerr=spread, capsize=3, color=COLOURS[variant], label=variant)
        throughput.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    throughput.set_xticks(range(len(names)), names)
    throughput.set_ylabel("requests per second (median; bars: min to max over rounds)")
    throughput.set_title("throughput")
    throughput.legend(fontsize=8)

    for ax, step in zip(axes[1:], ("checkout", "inventory", "checkout-fixed"), strict=True):
        for variant in variants:
            cell = steps.get(step, {}).get(variant)
            if cell:
                rate = f"{cell['rps']:.0f} req/s"
                ax.plot(
                    LATENCIES,
                    [cell["latency_ms"][p] for p in LATENCIES],
                    "o-",
                    color=COLOURS[variant],
                    label=f"{variant} ({rate})",
                )
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (median over rounds)")
        ax.set_xticks(range(len(LATENCIES)), [p.replace("_", ".") for p in LATENCIES])
        ax.set_title(TITLES[step], fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)

    machine = results["machine"]
    fig.suptitle(
        f"shoptrace: tracing's cost. {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['when']}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
