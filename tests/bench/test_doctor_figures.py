"""docs/doctor.md's table of the doctor's time and memory has a row for every run of bench/results/doctor.json.

The figures themselves are written by ``python -m scripts.figures --write`` and
held to the results file by tests/test_doc_figures.py; this keeps a run from
going missing from the table.
"""

from __future__ import annotations

import json

from tests.support.processes import ROOT


def test_the_pages_time_and_memory_table_has_a_row_for_every_run() -> None:
    page = (ROOT / "docs" / "doctor.md").read_text()
    results = json.loads((ROOT / "bench" / "results" / "doctor.json").read_text())
    runs = [f"runs.{i}" for i in range(len(results["runs"]))]
    runs += [f"collector_file.runs.{i}" for i in range(len(results["collector_file"]["runs"]))]
    runs += ["previous.whole_window"] if results.get("previous") else []
    for run in runs:
        for key in ("window_s", "traces", "spans", "wall_s", "peak_rss_mb"):
            assert f"<!--fig doctor {run}.{key}-->" in page, f"docs/doctor.md's table lacks {run}.{key} of doctor.json"
