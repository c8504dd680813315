"""The doctor (``traceproof doctor``) run as a person runs it, over a window given by its times, against the stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.e2e.conftest import JAEGER_URL, PROMETHEUS_URL
from tests.support.cli import run_module


def iso(t_ns: int) -> str:
    return datetime.fromtimestamp(t_ns / 1e9, UTC).isoformat()


def doctor(since_ns: int, until_ns: int, *extra: str) -> tuple[int, dict[str, Any]]:
    """The doctor's exit status and JSON over the window, with the stack's Jaeger (or ``--otlp-file``) and Prometheus."""
    result = run_module(
        "traceproof",
        "doctor",
        "--json",
        "--since",
        iso(since_ns),
        "--until",
        iso(until_ns),
        "--jaeger",
        JAEGER_URL,
        "--prometheus",
        PROMETHEUS_URL,
        *extra,
        timeout_s=300,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report
