"""docs/doctor.md's table of the doctor's time and memory is bench/results/doctor.json's, row by row."""

from __future__ import annotations

import json
from typing import Any

from tests.support.processes import ROOT


def _row(source: str, run: dict[str, Any]) -> str:
    return (
        f"| {source} | {run['window_s']:g} s | {run['traces']:,} | {run['spans']:,} | {run['wall_s']:.1f} s "
        f"| {run['peak_rss_mb']:.0f} MB |"
    )


def table_rows() -> list[str]:
    results = json.loads((ROOT / "bench" / "results" / "doctor.json").read_text())
    rows = [_row("Jaeger", run) for run in results["runs"]]
    rows += [_row("Collector's file", run) for run in results["collector_file"]["runs"]]
    previous = results.get("previous")
    if previous:
        rows.append(_row(f"Jaeger, at {previous['commit']}", previous["whole_window"]))
    return rows


def test_the_pages_time_and_memory_table_is_the_results_files() -> None:
    page = (ROOT / "docs" / "doctor.md").read_text()
    for row in table_rows():
        assert row in page, f"docs/doctor.md lacks, or has other figures than, this row of bench/results/doctor.json:\n{row}"
    results = json.loads((ROOT / "bench" / "results" / "doctor.json").read_text())
    prose = " ".join(page.split())
    assert f"{results['collector_file']['megabytes']:g} MB of OTLP JSON lines" in prose
    assert f"{results['seconds_per_1000_traces']:g} s per 1,000 traces" in prose
    assert f"{results['memory_per_span_kb']:g} KB per span held" in prose
