"""A stack service's container coming back after its process died: which run it is on, and a wait for the next.

For the stack tests of the span journal (tests/e2e/test_journal_on_the_stack.py,
tests/drills/test_journal_drills.py). A container that dies by itself (the
process exits, as ``fault-kill`` makes inventory do) is started again by
Docker, its ``restart: unless-stopped``; one that ``docker kill`` ended is not
(Docker takes a kill through its API as a manual stop: moby's
``daemon/kill.go`` sets ``HasBeenManuallyStopped``), so the drills start it
again themselves, as an operator or an orchestrator would. Either way the new
run has a new ``State.StartedAt``, and is back once Docker calls it healthy.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from functools import cache

from tests.support.load import wait_until
from tests.support.processes import ROOT, parse_log_lines

#: Docker's restart manager waits this long before the first restart of a container that died (moby
#: restartmanager: 100 ms, doubled each time a run lasted under 10 s; one death per test here).
DOCKER_RESTART_DELAY_S = 0.1

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_s(text: str) -> float:
    """Seconds in a Go duration as Compose writes them (``30s``, ``1m30s``, ``200ms``)."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def _docker(*args: str) -> str:
    return subprocess.run(["docker", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout


@cache
def health_bound_s(service: str) -> float:
    """How long Docker gives a fresh run of ``service`` to be healthy before it calls it unhealthy, from its health
    check in the stack's configuration: ``start_period``, then ``retries`` failed probes, each up to ``timeout`` long
    and ``interval`` after the last. A run not healthy by then never will be, by Docker's own account."""
    config = json.loads(_docker("compose", "config", "--format", "json"))
    check = config["services"][service]["healthcheck"]
    per_probe = go_duration_s(check["interval"]) + go_duration_s(check["timeout"])
    return go_duration_s(check["start_period"]) + int(check["retries"]) * per_probe


def back_within_s(service: str) -> float:
    """The bound on a dead ``service`` being healthy again: Docker's restart delay, then its health check's bound."""
    return DOCKER_RESTART_DELAY_S + health_bound_s(service)


_RUN_FIELDS = "{{.State.StartedAt}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"


def run_of(service: str) -> tuple[str, str, str]:
    """``service``'s container's (start of its current run, state, health); empty strings while there is none."""
    try:
        (container,) = _docker("compose", "ps", "--all", "-q", service).split()
        fields = _docker("inspect", "-f", _RUN_FIELDS, container).split()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError):
        return ("", "", "")
    started, status, health = (fields + ["", "", ""])[:3]
    return (started, status, health)


def wait_back(service: str, before: str) -> float:
    """Seconds until ``service`` runs again after the run that started at ``before`` and is healthy; fails past
    :func:`back_within_s`."""

    def back() -> bool:
        started, status, health = run_of(service)
        return started not in ("", before) and status == "running" and health == "healthy"

    return wait_until(back, back_within_s(service), f"{service} running again (a new run) and healthy")


def kill(service: str) -> str:
    """``docker kill`` (SIGKILL) ``service``'s container; the start of the run it ended, for :func:`wait_back`."""
    before = run_of(service)[0]
    _docker("compose", "kill", "-s", "SIGKILL", service)
    return before


def now_rfc3339() -> str:
    """Now, as ``docker compose logs --since`` takes it (the daemon's clock is this machine's)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def messages_since(service: str, since: str) -> list[str]:
    """The message of each log line ``service``'s container wrote since ``since`` (:func:`now_rfc3339`), over all its
    runs. Every line is a JSON object (the services' logging); one that is not fails here, as it would in logs()."""
    lines = _docker("compose", "logs", "--no-color", "--no-log-prefix", "--since", since, service).splitlines()
    return [str(record.get("message", "")) for record in parse_log_lines([line for line in lines if line.strip()])]
