"""From the runs to the figures the targets (docs/performance.md) are about: medians over rounds, ratios within a round."""

from __future__ import annotations

import statistics
from typing import Any

STEPS = ("checkout", "inventory", "checkout-fixed")
LATENCIES = ("p50", "p90", "p99", "p99_9")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _round_ratios(runs: list[dict[str, Any]], step: str, variant: str, baseline: str, key: str) -> list[float]:
    """variant/baseline in each round, each ratio taken within one round (same machine state)."""
    by_round: dict[int, dict[str, float]] = {}
    for run in runs:
        if run["step"] == step and run["variant"] in (variant, baseline) and run["round"] >= 0:
            value = run["rps"] if key == "rps" else run["latency_ms"][key]
            by_round.setdefault(run["round"], {})[run["variant"]] = value
    return [r[variant] / r[baseline] for r in by_round.values() if variant in r and r.get(baseline)]


def _ratio(runs: list[dict[str, Any]], step: str, variant: str, baseline: str, key: str) -> float | None:
    """Median over rounds of variant/baseline (:func:`_round_ratios`)."""
    return _median(_round_ratios(runs, step, variant, baseline, key))


def _spread(runs: list[dict[str, Any]], step: str, variant: str, baseline: str, key: str) -> list[float] | None:
    """The least and the greatest of the rounds' variant/baseline: what separates one round from another."""
    ratios = _round_ratios(runs, step, variant, baseline, key)
    return [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None


def summarize(runs: list[dict[str, Any]], variants: tuple[str, ...]) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    for step in STEPS:
        per_variant = {}
        for variant in variants:
            mine = [r for r in runs if r["step"] == step and r["variant"] == variant and r["round"] >= 0]
            if not mine:
                continue
            per_variant[variant] = {
                "rps": _median([r["rps"] for r in mine]),
                "rps_min": min(r["rps"] for r in mine),
                "rps_max": max(r["rps"] for r in mine),
                "latency_ms": {p: _median([r["latency_ms"][p] for r in mine]) for p in LATENCIES},
                "cpu_ms_per_request": {
                    name: _median([r["cpu_ms_per_request"][name] for r in mine]) for name in mine[0]["cpu_ms_per_request"]
                },
            }
        steps[step] = per_variant
    ratios = {
        "checkout_rps_traced_vs_untraced": _ratio(runs, "checkout", "traced", "untraced", "rps"),
        "inventory_rps_traced_vs_untraced": _ratio(runs, "inventory", "traced", "untraced", "rps"),
        "checkout_fixed_p99_traced_vs_untraced": _ratio(runs, "checkout-fixed", "traced", "untraced", "p99"),
        "checkout_rps_traced_vs_zero_code": _ratio(runs, "checkout", "traced", "zero-code", "rps"),
        "inventory_rps_traced_vs_zero_code": _ratio(runs, "inventory", "traced", "zero-code", "rps"),
        "checkout_rps_zero_code_vs_untraced": _ratio(runs, "checkout", "zero-code", "untraced", "rps"),
        "inventory_rps_zero_code_vs_untraced": _ratio(runs, "inventory", "zero-code", "untraced", "rps"),
        # The span journal's cost: traced (journal on, the default) against traced with SPAN_JOURNAL_MB=0.
        "checkout_rps_traced_vs_no_journal": _ratio(runs, "checkout", "traced", "traced-no-journal", "rps"),
        "inventory_rps_traced_vs_no_journal": _ratio(runs, "inventory", "traced", "traced-no-journal", "rps"),
        "checkout_fixed_p99_traced_vs_no_journal": _ratio(runs, "checkout-fixed", "traced", "traced-no-journal", "p99"),
        "checkout_rps_no_journal_vs_untraced": _ratio(runs, "checkout", "traced-no-journal", "untraced", "rps"),
        "inventory_rps_no_journal_vs_untraced": _ratio(runs, "inventory", "traced-no-journal", "untraced", "rps"),
    }
    # The journal's effect is smaller than the rest: its ratios' spread over rounds says what the bench can resolve.
    spreads = {
        "checkout_rps_traced_vs_no_journal": _spread(runs, "checkout", "traced", "traced-no-journal", "rps"),
        "inventory_rps_traced_vs_no_journal": _spread(runs, "inventory", "traced", "traced-no-journal", "rps"),
    }
    return {"steps": steps, "ratios": ratios, "ratio_spreads": spreads}


#: RSS growth over the soak that still counts as none: the allocator grows and
#: shrinks its arenas by a few MB under steady load, while a leak of 100 bytes
#: per request exceeds it within the ten minutes at the fixed rate (~60,000 requests).
SOAK_GROWTH_TOLERANCE_MB = 5.0


def targets(
    summary: dict[str, Any],
    loss: dict[str, Any] | None,
    memory: list[dict[str, Any]],
    soak: dict[str, Any] | None,
    up_s: float | None,
) -> list[dict[str, Any]]:
    """The targets, each with what was measured and whether it is met (None: not measured)."""
    ratios = summary["ratios"]
    rss = [max(m["checkout"], m["inventory"]) for m in memory] + ([max(loss["rss_mb_after"].values())] if loss else [])
    rss_max = max(rss)

    def row(name: str, goal: str, measured: Any, met: bool | None) -> dict[str, Any]:
        return {"target": name, "goal": goal, "measured": measured, "met": met}

    def at_least(value: float | None, goal: float) -> bool | None:
        return None if value is None else value >= goal

    def at_most(value: float | None, goal: float) -> bool | None:
        return None if value is None else value <= goal

    measured = [
        row(
            "checkout throughput, traced / untraced",
            ">= 0.90",
            ratios["checkout_rps_traced_vs_untraced"],
            at_least(ratios["checkout_rps_traced_vs_untraced"], 0.90),
        ),
        row(
            "checkout p99 at a fixed rate, traced / untraced",
            "<= 1.15",
            ratios["checkout_fixed_p99_traced_vs_untraced"],
            at_most(ratios["checkout_fixed_p99_traced_vs_untraced"], 1.15),
        ),
        row(
            "inventory throughput, traced / untraced",
            ">= 0.75",
            ratios["inventory_rps_traced_vs_untraced"],
            at_least(ratios["inventory_rps_traced_vs_untraced"], 0.75),
        ),
        row("RSS of each service after load", "<= 100 MB", rss_max, rss_max <= 100),
        row("docker compose up --wait, built images", "<= 20 s", up_s, at_most(up_s, 20.0)),
    ]
    growth = soak["rss_growth_mb"] if soak else None
    measured.append(
        row(f"RSS growth over a {soak['duration_s']:g} s soak at the fixed rate" if soak else "RSS growth over a soak",
            f"<= {SOAK_GROWTH_TOLERANCE_MB:g} MB", growth,
            None if growth is None else max(growth.values()) <= SOAK_GROWTH_TOLERANCE_MB)
    )  # fmt: skip
    if loss is None:
        return measured + [
            row("spans lost at full speed", "0", None, None),
            row("trace whole in Jaeger, p95", "<= 1 s", None, None),
            row("pipeline containers' memory after the flat-out run", "< mem_limit", None, None),
        ]
    ttq = loss["time_to_queryable"]
    return measured + [
        row(f"spans lost, checkout flat out for {loss['duration_s']:g} s", "0",
            {"lost": loss["spans_lost"], "short_traces": loss["traces_short_of_spans"],
             "pipeline_restarts": loss["pipeline_restarts"]["after"]},
            loss["spans_lost"] == 0 and loss["traces_short_of_spans"] == 0
            and loss["pipeline_restarts"]["before"] == loss["pipeline_restarts"]["after"]),
        row("trace whole in Jaeger after the response, p95", "<= 1 s", ttq["p95_s"],
            at_most(ttq["p95_s"], 1.0) and not ttq["not_whole_within_10_s"]),
        row(f"pipeline containers' memory after {loss['duration_s']:g} s flat out", "< mem_limit",
            loss["pipeline_memory_after"],
            all(m["used_mb"] < m["limit_mb"] for m in loss["pipeline_memory_after"].values())),
    ]  # fmt: skip
