"""The log lines that carry one trace id, from JSON-lines logs: files, or what a command prints.

Any service that writes one JSON object per line with the trace id in it
(python-json-logger, structlog, OpenTelemetry's logging instrumentation) is
read the same way: the id is looked for under the names those tools use, and
lines that are not JSON objects (a stray print, a server before its logging
is set up) are skipped.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where a record keeps its trace id: ours and python-json-logger's, OpenTelemetry's logging instrumentation, ECS.
TRACE_ID_KEYS = ("trace_id", "otelTraceID", "traceId", "trace.id")
#: Where it keeps its service's name.
SERVICE_KEYS = ("service", "otelServiceName", "service.name")


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


def _first(record: dict[str, Any], keys: Sequence[str], default: str = "") -> str:
    return next((str(record[k]) for k in keys if record.get(k) is not None), default)


def of_trace(records: Iterable[dict[str, Any]], trace_id: str) -> list[LogLine]:
    """The records of ``trace_id``, in time order (ISO times sort as text), labelled by service."""
    found = [
        LogLine(
            time=_first(record, ("time", "timestamp", "asctime", "@timestamp")),
            service=_first(record, SERVICE_KEYS, "?"),
            level=_first(record, ("level", "levelname", "log.level")).lower(),
            message=_first(record, ("message", "msg")),
            exception=record.get("exception") or record.get("exc_info"),
        )
        for record in records
        if _first(record, TRACE_ID_KEYS).lower() == trace_id
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


def from_command(command: Sequence[str], cwd: Path | None = None, timeout_s: float = 60) -> list[dict[str, Any]]:
    """The records a command prints (``docker compose logs --no-color --no-log-prefix``, ``kubectl logs``...)."""
    shown = " ".join(command)
    try:
        result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError as exc:
        raise LogsUnavailable(f"`{command[0]}` is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise LogsUnavailable(f"`{shown}` did not answer within {timeout_s:g} s") from exc
    if result.returncode != 0:
        raise LogsUnavailable(f"`{shown}` failed: {result.stderr.strip()[:300]}")
    return parse(result.stdout.splitlines())
