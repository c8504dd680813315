"""docs/doctor.md's table of the doctor on one host is bench/results/doctor-one-host.json's, row by row."""

from __future__ import annotations

import json

from tests.support.processes import ROOT


def _span(values: list[float | None]) -> str:
    """``0.82–0.91`` for a range over the seeds, one figure when they agree, ``n/a`` when there was nothing to measure."""
    known = [v for v in values if v is not None]
    if not known:
        return "n/a"
    low, high = min(known), max(known)
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def table_rows() -> list[str]:
    runs = json.loads((ROOT / "bench" / "results" / "doctor-one-host.json").read_text())["runs"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in runs))
    rows = []
    for scenario in scenarios:
        of = [r for r in runs if r["scenario"] == scenario]
        rows.append(
            f"| {scenario} | {_span([r['breaks'] for r in of])} | {_span([r['precision'] for r in of])} "
            f"| {_span([r['recall'] for r in of])} | {_span([r['doubts'] for r in of])} |"
        )
    return rows


def test_the_pages_one_host_table_is_the_results_files() -> None:
    page = (ROOT / "docs" / "doctor.md").read_text()
    for row in table_rows():
        assert row in page, f"docs/doctor.md lacks, or has other figures than, this row of the results:\n{row}"
