"""``traceproof``: one command, a subcommand per tool; ``traceproof doctor``: where did the last minutes' traces break, and why.

The doctor reads every trace of a window (``--since``, 15 minutes by default)
from a source (Jaeger, or the Collector's file with ``--otlp-file``), judges
it, and prints the breaks with their evidence, cause and fix (``--json`` for a
machine). Exit status: 0 when nothing is broken, 1 when something is, 2 when
it cannot tell (the source unreachable, refused or not what it was said to
be, an empty window, a window over the memory budget), each with one
sentence that says what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.text import Text

from traceproof import __version__
from traceproof.doctor.examine import examine
from traceproof.doctor.pipeline import PrometheusCounters
from traceproof.doctor.report import BROKEN, CANNOT_TELL, CLEAN, as_json, print_report, verdict
from traceproof.errors import SourceError
from traceproof.jaeger import jaeger_url
from traceproof.sources import HEADERS_VARIABLE, open_source, parse_headers
from traceproof.text import wide_console
from traceproof.window import MAX_SPANS, PAGE_SIZE

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(text: str) -> float:
    """``90s``, ``15m``, ``2h``, ``1d`` in seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write a number and a unit, as in 90s, 15m, 2h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def moment_ns(text: str, now_ns: int) -> int:
    """A point in time: a duration ago (``15m``) or an ISO 8601 time (``2026-12-02T14:05:00Z``, UTC when no zone is given)."""
    if _DURATION.match(text.strip()):
        return now_ns - round(duration_s(text) * 1e9)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a duration (90s, 15m, 2h) nor an ISO 8601 time (2026-12-02T14:05:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1e9)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where traces are read from: the same options, spelled the same, as the pytest plugin's."""
    group = parser.add_argument_group("where the traces are")
    group.add_argument(
        "--jaeger", default=jaeger_url(), help="Jaeger's query address (default: %(default)s, from JAEGER_URL when set)"
    )
    group.add_argument(
        "--jaeger-api",
        choices=["auto", "v3", "v1"],
        default="auto",
        help="Jaeger 2's API (v3) or Jaeger 1.x's (v1); auto asks which it answers (default: %(default)s)",
    )
    group.add_argument(
        "--jaeger-header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help=f"a request header for Jaeger, e.g. credentials (repeatable; also {HEADERS_VARIABLE}=name=value,...); never printed",
    )
    group.add_argument("--jaeger-ca-file", help="PEM file of the CA that signed Jaeger's certificate, beside the system's")
    group.add_argument(
        "--otlp-file", help="read the OpenTelemetry Collector's file exporter output (a file or its folder) instead of Jaeger"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="traceproof", description="Find where distributed traces broke, and prove in tests that a request is one trace."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    doctor = commands.add_parser(
        "doctor",
        help="find where traces broke in a window, name the edge and the cause, and say the fix",
        description="Find where traces broke in a window, name the edge and the cause, and say the fix.",
        epilog="Exit status: 0 nothing broken, 1 something broken, 2 cannot tell (one sentence says why).",
    )
    add_source_options(doctor)
    doctor.add_argument(
        "--service",
        action="append",
        metavar="NAME",
        help="judge only the traces that touch this service (repeatable; default: every service the source holds)",
    )
    doctor.add_argument(
        "--since", default="15m", help="where the window starts: a duration ago or an ISO 8601 time (default: %(default)s)"
    )
    doctor.add_argument("--until", default="0s", help="where the window ends: a duration ago or an ISO 8601 time (default: now)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON, for a machine")
    doctor.add_argument(
        "--prometheus",
        default=os.environ.get("PROMETHEUS_URL"),
        help="a Prometheus that scrapes the Collector's own metrics, to tell what the pipeline lost (default: PROMETHEUS_URL)",
    )
    doctor.add_argument(
        "--wait", default="10s", help="how long to wait for missing parents before calling them dropped (default: %(default)s)"
    )
    doctor.add_argument("--page-size", type=int, default=PAGE_SIZE, help="traces asked of Jaeger per call (default: %(default)s)")
    doctor.add_argument(
        "--max-spans",
        type=int,
        default=MAX_SPANS,
        help="the memory budget: the most spans one window may hold, about 3 KB each (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        args.wait_s = duration_s(args.wait)
        now = time.time_ns()
        if moment_ns(args.since, now) >= moment_ns(args.until, now):
            raise argparse.ArgumentTypeError(f"--since {args.since} is not before --until {args.until}")
    except argparse.ArgumentTypeError as exc:
        doctor.error(str(exc))
    return args


def main(
    argv: Sequence[str] | None = None,
    now_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    args = parse_args(argv)
    return doctor(args, now_ns, sleep)


def doctor(args: argparse.Namespace, now_ns: Callable[[], int], sleep: Callable[[float], None]) -> int:
    err = Console(stderr=True, soft_wrap=True)
    now = now_ns()
    start_ns, end_ns = moment_ns(args.since, now), moment_ns(args.until, now)
    counters = PrometheusCounters(args.prometheus) if args.prometheus else None
    try:
        with open_source(
            args.jaeger,
            args.otlp_file,
            api=args.jaeger_api,
            headers=parse_headers(args.jaeger_header),
            ca_file=args.jaeger_ca_file,
            page_size=args.page_size,
            max_spans=args.max_spans,
        ) as source:
            exam = examine(source, start_ns, end_ns, args.wait_s, counters, sleep, args.service)
            where = str(source)

            def link(trace_id: str) -> str:
                return source.link(trace_id) or trace_id

    except SourceError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_status": CANNOT_TELL}, indent=2))
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return CANNOT_TELL
    relative = _DURATION.match(args.since.strip()) and args.until.strip() == "0s"
    window = f"the last {args.since}" if relative else f"the window {args.since} to {args.until}"
    code, sentence = verdict(exam, where, window)
    if args.json:
        print(json.dumps({**as_json(exam, link), "verdict": sentence, "exit_status": code}, indent=2))
        err.print(sentence, markup=False, highlight=False)
    else:
        out = wide_console()
        print_report(out, exam, where, link)
        style = {CLEAN: "bold green", BROKEN: "bold red"}.get(code, "bold yellow")
        out.print(Text(sentence, style=style))
    return code


if __name__ == "__main__":
    sys.exit(main())
