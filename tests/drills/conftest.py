"""Fault drills against the running compose stack (``make drills``).

Each drill runs steady load with explore.load while it breaks one part of the
stack, then checks what the stack promises (docs/reliability.md's drills
table) and records what it measured in bench/results/drills.json, from which
that table is copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import checkout, inventory, jaeger, prometheus, stack_is_up, timings  # noqa: F401 (fixtures)
from tests.support.processes import ROOT
from tests.support.results import recorded

RESULTS = ROOT / "bench" / "results" / "drills.json"


@pytest.fixture(scope="session")
def record() -> Iterator[dict[str, Any]]:
    """Figures by drill; written to bench/results/drills.json when the drills end."""
    yield from recorded(RESULTS)
