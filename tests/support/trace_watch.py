"""The stack's ``traceproof watch`` (service trace-watch) as the tests see it.

Its settings are read as the stack runs them (its command as Compose has it,
the alert rule and the scrape interval as Prometheus loaded them), so every
wait is derived from them:
:class:`Schedule` says how long after a request its trace is counted, shown
in Prometheus and alerted on. Its counters are read from its own ``/metrics``
(one process's, exact, no scrape in between), its progress from ``/healthz``.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.processes import ROOT
from traceproof.cli import duration_s, parse_args
from traceproof.wait import poll

WATCH_URL = "http://127.0.0.1:9466"
PROMETHEUS_URL = "http://127.0.0.1:9090"
SERVICE = "trace-watch"
ALERT = "TraceBreaks"
#: The work of one tick: the watcher reads each window out of the Collector's file twice
#: (ids, then spans) and judges it; the doctor read a 239 MB file in 6.4 s on this machine
#: (docs/doctor.md), and a tick may hold a window and a re-check.
JUDGE_S = 20.0
#: From `docker compose restart` to a process that serves: the container's start and Python's imports.
START_S = 15.0

#: A break's edge as the metric labels it; Prometheus drops an empty label, so no peer is "".
Edge = tuple[str, str, str]


@dataclass(frozen=True)
class Schedule:
    """The watcher's schedule (its command in docker-compose.yml) and Prometheus's (its config and the rule)."""

    every_s: float
    settle_s: float
    late_after_s: float
    scrape_s: float
    evaluation_s: float
    for_s: float
    range_s: float
    expr: str

    @property
    def counted_s(self) -> float:
        """A trace that started at t is judged, its breaks counted, by t + this: its window ends within one
        tick of t, is judged settle after its end, at the next tick (one more --every), in JUDGE_S."""
        return self.settle_s + 2 * self.every_s + JUDGE_S

    @property
    def rechecked_s(self) -> float:
        """... and a trace missing a parent is judged again (lost or late) by t + this: late-after, at the next tick."""
        return self.counted_s + self.late_after_s + self.every_s + JUDGE_S

    @property
    def in_prometheus_s(self) -> float:
        """A counted break is in Prometheus by t + this (one scrape)."""
        return self.counted_s + self.scrape_s

    @property
    def firing_s(self) -> float:
        """The alert on it fires by t + this: an evaluation sees it (pending), `for` later one more (firing)."""
        return self.in_prometheus_s + self.evaluation_s + self.for_s + self.evaluation_s

    @property
    def quiet_s(self) -> float:
        """An alert whose last break was counted at c is over by c + this: the rule's range, a scrape, an evaluation."""
        return self.range_s + self.scrape_s + self.evaluation_s


def compose_command() -> list[str]:
    """trace-watch's command as Compose runs it (``docker compose config``: the files, the project, the overlays)."""
    out = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    command: list[str] = json.loads(out)["services"][SERVICE]["command"]
    return command


def schedule(command: list[str] | None = None, prometheus_url: str = PROMETHEUS_URL) -> Schedule:
    """The schedules as the stack runs them: the watcher's command, Prometheus's loaded rule and its scrape of the watcher."""
    args = parse_args(command if command is not None else compose_command())
    groups = httpx.get(f"{prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    ((group, rule),) = [(g, r) for g in groups for r in g["rules"] if r["name"] == ALERT]
    targets = httpx.get(f"{prometheus_url}/api/v1/targets", params={"state": "active"}, timeout=5).json()["data"]
    (scrape,) = {t["scrapeInterval"] for t in targets["activeTargets"] if t["labels"].get("job") == "trace-watch"}
    expr: str = rule["query"]
    ranges = re.findall(r"\[(\w+)\]|offset (\w+)", expr)  # [2m] and offset 2m: one range throughout
    (range_s,) = {duration_s(given) for pair in ranges for given in pair if given}
    return Schedule(
        every_s=args.settings.every_s,
        settle_s=args.settings.settle_s,
        late_after_s=args.settings.late_after_s,
        scrape_s=duration_s(scrape),
        evaluation_s=float(group["interval"]),
        for_s=float(rule["duration"]),
        range_s=range_s,
        expr=expr,
    )


@dataclass(frozen=True)
class WatchCounts:
    """One watcher process's counters, as its /metrics shows them."""

    judged: dict[str, float]
    breaks: dict[Edge, float]

    def breaks_touching(self, services: Collection[str]) -> dict[Edge, float]:
        """The breaks on an edge with one of ``services`` at either end."""
        return {e: n for e, n in self.breaks.items() if e[1] in services or e[2] in services}


def counts(url: str = WATCH_URL) -> WatchCounts:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    judged: dict[str, float] = {}
    breaks: dict[Edge, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "traceproof_traces_judged_total":
                judged[sample.labels["service"]] = sample.value
            elif sample.name == "traceproof_breaks_total":
                labels = sample.labels
                breaks[(labels["kind"], labels["service"], labels.get("peer", ""))] = sample.value
    return WatchCounts(judged, breaks)


def recent_breaks(url: str = WATCH_URL) -> list[dict[str, Any]]:
    """``/breaks``: the most recent breaks, newest first, each with its trace ids."""
    breaks: list[dict[str, Any]] = httpx.get(f"{url}/breaks", timeout=5).json()["breaks"]
    return breaks


def iso_ns(text: str) -> int:
    """An ISO 8601 time as the watcher writes it (``...Z``) in ns since the epoch."""
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1e9)


def last_window_end_ns(url: str = WATCH_URL) -> int | None:
    """The end of the latest window the watcher judged, or None while it starts (503) or cannot be reached."""
    try:
        response = httpx.get(f"{url}/healthz", timeout=5)
    except httpx.HTTPError:
        return None
    end = response.json().get("last_window_end") if response.status_code == 200 else None
    return iso_ns(end) if end else None


def wait_judged(t_ns: int, sched: Schedule, late: bool = True) -> None:
    """Wait until every trace that started by ``t_ns`` has been judged and counted (and, if ``late``, re-checked):
    a window ending after it judged, then the ticks that count it (and, late-after on, re-check it)."""
    started = time.monotonic()
    left = max(0.0, (t_ns - time.time_ns()) / 1e9)  # t may lie ahead

    def end() -> int:
        return last_window_end_ns() or 0

    _, done = poll(end, lambda e: e > t_ns, timeout_s=left + sched.counted_s)
    assert done, f"trace-watch judged no window past {t_ns} within {left + sched.counted_s:.0f} s"
    judged_ns = time.time_ns()  # the tick that judged it ran by now
    # Counted by the end of that tick: a tick later shows it over; a re-check is due late-after on, at a tick.
    target = judged_ns - round(sched.settle_s * 1e9) + round(((sched.late_after_s if late else 0.0) + sched.every_s) * 1e9)
    more = (sched.late_after_s if late else 0.0) + 2 * sched.every_s + JUDGE_S
    _, done = poll(end, lambda e: e >= target, timeout_s=more, interval_s=0.5)
    assert done, f"trace-watch did not tick on past {target} within {more:.0f} s (waited {time.monotonic() - started:.0f} s)"


def left_s(since_ns: int, bound_s: float) -> float:
    """What is left of ``bound_s`` counted from ``since_ns``."""
    return max(0.0, bound_s - (time.time_ns() - since_ns) / 1e9)


def active_alerts(services: Collection[str], prometheus_url: str = PROMETHEUS_URL) -> dict[Edge, str]:
    """The TraceBreaks alerts on an edge touching ``services`` Prometheus has active now: edge -> pending or firing."""
    alerts = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    found: dict[Edge, str] = {}
    for alert in alerts:
        labels = alert["labels"]
        if labels.get("alertname") != ALERT:
            continue
        edge = (labels.get("kind", ""), labels.get("service", ""), labels.get("peer", ""))
        if edge[1] in services or edge[2] in services:
            found[edge] = alert["state"]
    return found
