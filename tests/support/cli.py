"""Run the project's command-line tools as a person does: a process, its exit status, what it printed."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import ROOT

#: Wide enough that no row of the waterfall or the tables wraps.
COLUMNS = "220"


def run_module(module: str, *args: str, timeout_s: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` from the repository root, with the test's interpreter."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": COLUMNS, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
