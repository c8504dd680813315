"""The services' log lines that carry one trace id, from the compose stack or from files.

Both services write one JSON object per line to stdout (shoptrace.logs):
``time, level, service, logger, message, trace_id, span_id`` and, for an
error, ``exception``. In the compose stack those lines are read with
``docker compose logs``; for services run by hand, from the files their
stdout was sent to (``--logs FILE``, or SHOPTRACE_LOGS). Lines that are not
JSON objects (a stray print, uvicorn before logging is set up) are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoptrace.services import SERVICES as ALL_SERVICES

#: The compose services whose logs are searched: all of shoptrace's.
SERVICES = tuple(s.name for s in ALL_SERVICES)


class LogsUnavailable(Exception):
    """The logs could not be read; the message says why and what to do."""


@dataclass(frozen=True)
class LogLine:
    time: str
    service: str
    level: str
    message: str
    exception: str | None


def parse(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Every line that is a JSON object; anything else is skipped."""
    records = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def of_trace(records: Iterable[dict[str, Any]], trace_id: str) -> list[LogLine]:
    """The records of ``trace_id``, in time order (the ISO times sort as text), labelled by service."""
    found = [
        LogLine(
            time=str(r.get("time", "")),
            service=str(r.get("service", "?")),
            level=str(r.get("level", "")),
            message=str(r.get("message", "")),
            exception=r.get("exception"),
        )
        for r in records
        if r.get("trace_id") == trace_id
    ]
    return sorted(found, key=lambda line: line.time)


def from_files(paths: Iterable[Path]) -> list[dict[str, Any]]:
    records = []
    for path in paths:
        try:
            records.extend(parse(path.read_text(errors="replace").splitlines()))
        except OSError as exc:
            raise LogsUnavailable(f"cannot read log file {path}: {exc.strerror}") from exc
    return records


def from_compose(services: Iterable[str] = SERVICES, cwd: Path | None = None) -> list[dict[str, Any]]:
    """The stack's logs, as ``docker compose logs --no-color --no-log-prefix`` gives them."""
    command = ["docker", "compose", "logs", "--no-color", "--no-log-prefix", *services]
    try:
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as exc:
        raise LogsUnavailable("docker is not installed: pass the services' log files with --logs") from exc
    except subprocess.TimeoutExpired as exc:
        raise LogsUnavailable("`docker compose logs` did not answer within 60 s") from exc
    if result.returncode != 0:
        raise LogsUnavailable(
            f"`{' '.join(command)}` failed: {result.stderr.strip()[:300]}. "
            "Run it where docker-compose.yml is, or pass log files with --logs."
        )
    return parse(result.stdout.splitlines())


def files_from_env() -> list[Path]:
    """SHOPTRACE_LOGS: log files separated by the path separator (``:`` on Linux)."""
    value = os.environ.get("SHOPTRACE_LOGS", "")
    return [Path(p) for p in value.split(os.pathsep) if p]
