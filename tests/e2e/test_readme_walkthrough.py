"""The walkthroughs (the README's quick start, then docs/walkthrough.md), run as written against the stack, so they cannot rot.

Each ``$ command`` of their console blocks runs in a shell at the repository
root (``make up`` is the exception: ``make test`` runs it before this suite)
and must exit 0, and its real output must show what the page says it shows
(rules in tests/support/walkthrough.py). Each page is a story of its own: the
trace ids a page's commands use are those its own earlier outputs showed.

Then the doctor reads the window of all that traffic (orders, every failure,
inventory stopped and started, a ``traceparent`` sent by curl, ``make load``)
and finds no break: every one of those traces is whole or rightly begins.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from tests.support.cli import COLUMNS
from tests.support.doctor import doctor
from tests.support.processes import ROOT
from tests.support.walkthrough import RUN_BY_CI, WALKTHROUGHS, IdMap, Step, Walkthrough


def test_every_walkthrough_command_runs_and_shows_what_its_page_says() -> None:
    stories = [(walkthrough, walkthrough.read(ROOT)) for walkthrough in WALKTHROUGHS]
    commands = [step.command for _, story in stories for step in story]
    # The walkthroughs' story, together: order, each failure, Jaeger's id, make trace, make load.
    for expected in (
        '"sku": "item-123"',
        "fault-crash",
        "fault-kill",
        "fault-slow",
        "sold-out",
        '"../etc"',
        "docker compose stop inventory",
        "make trace ID=",
        "make trace LAST_ERROR=1",
        "make load",
    ):
        assert any(expected in c for c in commands), f"the walkthroughs lost their {expected!r} step"

    since = time.time_ns()
    for walkthrough, story in stories:
        _run_story(walkthrough, story)

    status, report = doctor(since, time.time_ns())
    assert report["breaks"] == [], json.dumps(report["breaks"], indent=1)[:3000]
    assert report["doubts"] == [], report["doubts"]
    assert status == 0
    continued = [e for e in report["entry_points"] if "carrying the context of a trace begun there" in e["why"]]
    assert [e["service"] for e in continued] == ["checkout"], report["entry_points"]  # the curl with a traceparent


def _run_story(walkthrough: Walkthrough, story: list[Step]) -> None:
    """Run one page's steps in order; the ids its outputs show are the ones its later commands use."""
    ids = IdMap()
    env = {**os.environ, "COLUMNS": COLUMNS}
    for step in story:
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
        where = f"{walkthrough.page}: $ {command}"
        assert result.returncode == 0, f"{where}\nexit {result.returncode}\n{result.stdout}"
        missing = ids.compare(step.documented, result.stdout)
        assert not missing, f"{where}\ndocumented but not shown:\n" + "\n".join(missing) + f"\n--- real output:\n{result.stdout}"
