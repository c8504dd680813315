"""Fault drills against the running compose stack (``make drills``).

Each drill runs steady load with explore.load while it breaks one part of the
stack, then checks what the stack promises (the README's
"Reliability" table) and records what it measured in
results/drills.json, from which the README's table is copied.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import checkout, inventory, prometheus, stack_is_up, traces  # noqa: F401 (fixtures)
from tests.support.processes import ROOT

RESULTS = ROOT / "results" / "drills.json"


@pytest.fixture(scope="session")
def record() -> Iterator[dict[str, Any]]:
    """Figures by drill; written to results/drills.json when the drills end."""
    figures: dict[str, Any] = {}
    yield figures
    if figures:
        RESULTS.parent.mkdir(exist_ok=True)
        previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        previous.update(figures)
        previous["_machine"] = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        }
        RESULTS.write_text(json.dumps(previous, indent=2, sort_keys=True) + "\n")
