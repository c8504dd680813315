"""The pytest plugin (entry point ``pytest11``): the ``traces`` fixture, with its options.

pytest loads this module in every run where traceproof is installed, so it
imports nothing but pytest and the standard library until a test asks for one
of its fixtures: a run that never does is untouched by it.

Three fixtures, each overridable in a conftest.py like any other:

- ``trace_source`` (session): where traces are read. The Collector's file
  exporter output at ``--otlp-file`` / the ``otlp_file`` ini option when set;
  else Jaeger at ``--jaeger`` / the ``jaeger`` ini option / ``JAEGER_URL`` /
  http://localhost:16686, with ``--jaeger-api``, ``--jaeger-header`` (and
  ``TRACEPROOF_HEADERS``) and ``--jaeger-ca-file``: the doctor's options,
  spelled the same. Override it with ``traceproof.MemorySource.of(exporter)``
  to read the spans of the test's own process.
- ``trace_logs`` (session): the log lines of a trace, for failure output, from
  the ``trace_log_command`` ini option (a command that prints JSON-lines logs,
  such as ``docker compose logs --no-color --no-log-prefix``) and the
  ``trace_log_files`` ini option (paths); none when neither is set.
- ``traces``: :class:`traceproof.Traces` over those two, with the
  ``trace_timeout`` and ``trace_quiet`` ini options (seconds).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from traceproof.defaults import QUIET_S, TIMEOUT_S

if TYPE_CHECKING:
    from traceproof.sources import TraceSource
    from traceproof.traces import Logs, Traces


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("traceproof", "trace assertions (traceproof)")
    group.addoption(
        "--jaeger", default=None, help="Jaeger's query address (else the jaeger ini option, JAEGER_URL, localhost:16686)"
    )
    group.addoption(
        "--jaeger-api", default=None, choices=["auto", "v3", "v1"], help="Jaeger 2's API, Jaeger 1.x's, or ask (auto)"
    )
    group.addoption("--jaeger-header", action="append", default=[], help="'Name: value' header for Jaeger (repeatable)")
    group.addoption("--jaeger-ca-file", default=None, help="PEM file of the CA that signed Jaeger's TLS certificate")
    group.addoption("--otlp-file", default=None, help="read the Collector's file exporter output (file or folder), not Jaeger")
    parser.addini("jaeger", "Jaeger's query address, e.g. http://localhost:16686", default=None)
    parser.addini("jaeger_api", "auto, v3 or v1 (default auto)", default="auto")
    parser.addini("jaeger_ca_file", "PEM file of the CA that signed Jaeger's TLS certificate", default=None)
    parser.addini("otlp_file", "the Collector's file exporter output (file or folder) to read instead of Jaeger", default=None)
    parser.addini("trace_timeout", f"seconds traces.get waits for a trace (default {TIMEOUT_S:g})", default=str(TIMEOUT_S))
    quiet = f"seconds a trace must hold still when a test declares nothing (default {QUIET_S:g})"
    parser.addini("trace_quiet", quiet, default=str(QUIET_S))
    parser.addini("trace_log_command", "a command printing the services' JSON-lines logs, shown on failure", default=None)
    parser.addini("trace_log_files", "JSON-lines log files of the services, shown on failure", type="paths", default=[])


def _setting(config: pytest.Config, option: str, ini: str) -> str | None:
    value = config.getoption(option) or config.getini(ini)
    return str(value) if value else None


@pytest.fixture(scope="session")
def trace_source(pytestconfig: pytest.Config) -> Iterator[TraceSource]:
    """The Collector's file or Jaeger, where the plugin's options say."""
    from traceproof.errors import SourceError
    from traceproof.sources import open_source, parse_headers

    try:
        with open_source(
            _setting(pytestconfig, "--jaeger", "jaeger") or os.environ.get("JAEGER_URL"),
            _setting(pytestconfig, "--otlp-file", "otlp_file"),
            api=_setting(pytestconfig, "--jaeger-api", "jaeger_api") or "auto",  # type: ignore[arg-type]
            headers=parse_headers(pytestconfig.getoption("--jaeger-header")),
            ca_file=_setting(pytestconfig, "--jaeger-ca-file", "jaeger_ca_file"),
        ) as source:
            yield source
    except SourceError as exc:
        pytest.fail(f"traceproof: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def trace_logs(pytestconfig: pytest.Config) -> Logs | None:
    """The log lines of a trace from the ini options' command and files, or None when neither is set."""
    from traceproof.logs import LogLine, LogsUnavailable, from_command, from_files, of_trace

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
    from traceproof.traces import Traces

    return Traces(
        trace_source,
        timeout_s=float(pytestconfig.getini("trace_timeout")),
        quiet_s=float(pytestconfig.getini("trace_quiet")),
        logs=trace_logs,
    )
