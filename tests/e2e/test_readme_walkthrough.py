"""The README's walkthrough, run as written against the stack, so it cannot rot.

Each ``$ command`` of the Walkthrough's console blocks runs in a shell at the
repository root (``make up`` is the exception: ``make test`` runs it before
this suite) and must exit 0, and its real output must show what the README
says it shows (rules in tests/support/walkthrough.py).
"""

from __future__ import annotations

import os
import subprocess

from tests.support.cli import COLUMNS
from tests.support.processes import ROOT
from tests.support.walkthrough import RUN_BY_CI, IdMap, steps


def test_every_walkthrough_command_runs_and_shows_what_the_readme_says() -> None:
    walkthrough = steps((ROOT / "README.md").read_text())
    commands = [step.command for step in walkthrough]
    # The walkthrough's story, in order: order, each failure, Jaeger's id, make trace, make load.
    for expected in (
        '"sku": "item-123"',
        "fault-crash",
        "fault-slow",
        "sold-out",
        '"../etc"',
        "docker compose stop inventory",
        "make trace ID=",
        "make trace LAST_ERROR=1",
        "make load",
    ):
        assert any(expected in c for c in commands), f"the walkthrough lost its {expected!r} step"

    ids = IdMap()
    env = {**os.environ, "COLUMNS": COLUMNS}
    for step in walkthrough:
        if step.command in RUN_BY_CI:
            continue
        command = ids.apply(step.command)
        # One stream, as a terminal shows both.
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, f"$ {command}\nexit {result.returncode}\n{result.stdout}"
        missing = ids.compare(step.documented, result.stdout)
        assert not missing, (
            f"$ {command}\ndocumented but not shown:\n" + "\n".join(missing) + f"\n--- real output:\n{result.stdout}"
        )
