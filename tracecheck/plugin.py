"""The pytest plugin (entry point ``pytest11``): the ``traces`` fixture, reading from Jaeger, with its options.

Three fixtures, each overridable in a conftest.py like any other:

- ``trace_source`` (session): where traces are read, by default Jaeger at
  ``--jaeger-url`` / the ``jaeger_url`` ini option / ``JAEGER_URL`` /
  http://localhost:16686. Override it with a ``tracecheck.traces.MemorySource``
  to read spans exported in the test's own process.
- ``trace_logs`` (session): the log lines of a trace, for failure output, from
  the ``trace_log_command`` ini option (a command that prints JSON-lines logs,
  such as ``docker compose logs --no-color --no-log-prefix``) and the
  ``trace_log_files`` ini option (paths); none when neither is set.
- ``traces``: :class:`tracecheck.traces.Traces` over those two, with the
  ``trace_timeout`` and ``trace_quiet`` ini options (seconds).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracecheck.jaeger import DEFAULT_JAEGER_URL, JaegerClient
from tracecheck.logs import LogLine, LogsUnavailable, from_command, from_files, of_trace
from tracecheck.traces import QUIET_S, TIMEOUT_S, JaegerSource, Logs, Traces, TraceSource


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tracecheck", "trace assertions (tracecheck)")
    group.addoption("--jaeger-url", default=None, help="Jaeger's query API (else jaeger_url ini, JAEGER_URL, localhost:16686)")
    parser.addini("jaeger_url", "Jaeger's query API, e.g. http://localhost:16686", default=None)
    parser.addini("trace_timeout", f"seconds traces.get waits for a trace (default {TIMEOUT_S:g})", default=str(TIMEOUT_S))
    quiet = f"seconds a trace must hold still when a test declares nothing (default {QUIET_S:g})"
    parser.addini("trace_quiet", quiet, default=str(QUIET_S))
    parser.addini("trace_log_command", "a command printing the services' JSON-lines logs, shown on failure", default=None)
    parser.addini("trace_log_files", "JSON-lines log files of the services, shown on failure", type="paths", default=[])


def _jaeger_url(config: pytest.Config) -> str:
    given = config.getoption("--jaeger-url") or config.getini("jaeger_url") or os.environ.get("JAEGER_URL")
    return str(given or DEFAULT_JAEGER_URL).rstrip("/")


@pytest.fixture(scope="session")
def trace_source(pytestconfig: pytest.Config) -> Iterator[TraceSource]:
    """Jaeger, where the plugin's options say it is."""
    with JaegerClient(_jaeger_url(pytestconfig)) as client:
        yield JaegerSource(client)


@pytest.fixture(scope="session")
def trace_logs(pytestconfig: pytest.Config) -> Logs | None:
    """The log lines of a trace from the ini options' command and files, or None when neither is set."""
    command = pytestconfig.getini("trace_log_command")
    files: list[Path] = list(pytestconfig.getini("trace_log_files"))
    if not command and not files:
        return None
    argv = shlex.split(command) if command else []
    where = " and ".join(([f"`{command}`"] if command else []) + [str(f) for f in files])

    def lines(trace_id: str) -> tuple[list[LogLine] | None, str]:
        try:
            records = (from_command(argv) if argv else []) + from_files(files)
        except LogsUnavailable as exc:
            return None, str(exc)
        return of_trace(records, trace_id), f"from {where}"

    return lines


@pytest.fixture
def traces(pytestconfig: pytest.Config, trace_source: TraceSource, trace_logs: Logs | None) -> Traces:
    """Get a trace by response or id, whole: ``traces.get(response, spans=3).assert_connected()``."""
    return Traces(
        trace_source,
        timeout_s=float(pytestconfig.getini("trace_timeout")),
        quiet_s=float(pytestconfig.getini("trace_quiet")),
        logs=trace_logs,
    )
