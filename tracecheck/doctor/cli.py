"""``shoptrace-doctor``: where did the traces of the last minutes break, and why.

Reads every trace of a window from Jaeger (``--since``, 15 minutes by default),
judges it, and prints the breaks with their evidence, cause and fix (``--json``
for a machine). Exit status: 0 when nothing is broken, 1 when something is, 2
when it cannot tell (Jaeger unreachable, an empty window), each with a sentence
that says what to do.
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

from tracecheck.doctor.examine import examine
from tracecheck.doctor.pipeline import PrometheusCounters
from tracecheck.doctor.report import BROKEN, CANNOT_TELL, CLEAN, as_json, print_report, verdict
from tracecheck.jaeger import JaegerClient, JaegerError, jaeger_url
from tracecheck.window import PAGE_SIZE, WindowReader

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


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="shoptrace-doctor",
        description="Find where traces broke in a window of Jaeger's, name the edge and the cause, and say the fix.",
        epilog="Exit status: 0 nothing broken, 1 something broken, 2 cannot tell (Jaeger unreachable, an empty window).",
    )
    parser.add_argument(
        "--jaeger",
        default=jaeger_url(),
        help="Jaeger's address, UI and query API (default: %(default)s, from JAEGER_URL when set)",
    )
    parser.add_argument(
        "--since", default="15m", help="where the window starts: a duration ago or an ISO 8601 time (default: %(default)s)"
    )
    parser.add_argument("--until", default="0s", help="where the window ends: a duration ago or an ISO 8601 time (default: now)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON, for a machine")
    parser.add_argument(
        "--prometheus",
        default=os.environ.get("PROMETHEUS_URL"),
        help="a Prometheus that scrapes the Collector's own metrics, to tell what the pipeline lost (default: PROMETHEUS_URL)",
    )
    parser.add_argument(
        "--wait", default="10s", help="how long to wait for missing parents before calling them dropped (default: %(default)s)"
    )
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="traces asked of Jaeger per call (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        args.wait_s = duration_s(args.wait)
        now = time.time_ns()
        if moment_ns(args.since, now) >= moment_ns(args.until, now):
            raise argparse.ArgumentTypeError(f"--since {args.since} is not before --until {args.until}")
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    return args


def _console() -> Console:
    """rich's own width on a terminal (or with COLUMNS); wide enough for the tables when piped."""
    if sys.stdout.isatty() or "COLUMNS" in os.environ:
        return Console()
    return Console(width=160)


def main(
    argv: Sequence[str] | None = None,
    now_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    args = parse_args(argv)
    err = Console(stderr=True, soft_wrap=True)
    now = now_ns()
    start_ns, end_ns = moment_ns(args.since, now), moment_ns(args.until, now)
    counters = PrometheusCounters(args.prometheus) if args.prometheus else None
    try:
        with JaegerClient(args.jaeger) as jaeger:
            exam = examine(WindowReader(jaeger, args.page_size), jaeger.trace, start_ns, end_ns, args.wait_s, counters, sleep)
            link = jaeger.ui_link
    except JaegerError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_status": CANNOT_TELL}, indent=2))
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return CANNOT_TELL
    relative = _DURATION.match(args.since.strip()) and args.until.strip() == "0s"
    window = f"the last {args.since}" if relative else f"the window {args.since} to {args.until}"
    code, sentence = verdict(exam, args.jaeger, window)
    if args.json:
        print(json.dumps({**as_json(exam, link), "verdict": sentence, "exit_status": code}, indent=2))
        err.print(sentence, markup=False, highlight=False)
    else:
        out = _console()
        print_report(out, exam, args.jaeger, link)
        style = {CLEAN: "bold green", BROKEN: "bold red"}.get(code, "bold yellow")
        out.print(Text(sentence, style=style))
    return code


if __name__ == "__main__":
    sys.exit(main())
