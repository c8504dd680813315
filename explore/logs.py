"""The stack's log lines that carry one trace id: from ``docker compose logs``, or from files.

Both services write one JSON object per line to stdout (shoptrace.logs):
``time, level, service, logger, message, trace_id, span_id`` and, for an
error, ``exception``. Reading them is traceproof.logs's; this module knows
where this stack's logs are: its compose services, or the files a person sent
their stdout to when running them by hand (``--logs FILE``, or SHOPTRACE_LOGS).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shoptrace.services import SERVICES as ALL_SERVICES
from traceproof.logs import LogLine, LogsUnavailable, from_command, from_files, of_trace

__all__ = ["SERVICES", "LogLine", "LogsUnavailable", "files_from_env", "from_compose", "from_files", "of_trace"]

#: The compose services whose logs are searched: all of shoptrace's.
SERVICES = tuple(s.name for s in ALL_SERVICES)


def from_compose(services: Iterable[str] = SERVICES, cwd: Path | None = None) -> list[dict[str, Any]]:
    """The stack's logs, as ``docker compose logs --no-color --no-log-prefix`` gives them."""
    try:
        return from_command(["docker", "compose", "logs", "--no-color", "--no-log-prefix", *services], cwd=cwd)
    except LogsUnavailable as exc:
        raise LogsUnavailable(f"{exc}. Run it where docker-compose.yml is, or pass the services' log files with --logs.") from exc


def files_from_env() -> list[Path]:
    """SHOPTRACE_LOGS: log files separated by the path separator (``:`` on Linux)."""
    value = os.environ.get("SHOPTRACE_LOGS", "")
    return [Path(p) for p in value.split(os.pathsep) if p]
