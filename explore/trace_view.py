"""``shoptrace-trace`` / ``make trace``: from a trace id to the whole story, in the terminal.

Fetches the trace from Jaeger's API and prints it as a waterfall (service,
operation, start offset, duration, status, error, a bar to scale), then every
log line of both services that carries the trace id, in time order. With
``--last-error`` it first asks Jaeger for the most recent failing trace, so a
person who has just seen a 502 needs no id.

Logs come from ``docker compose logs`` (the stack), or from files with
``--logs FILE ...`` / SHOPTRACE_LOGS (services run by hand with their stdout
sent to a file). Exit status: 0 shown, 1 Jaeger unreachable or no such trace,
2 bad arguments or a malformed id.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from explore import logs
from traceproof import waterfall
from traceproof.jaeger import (
    JaegerClient,
    JaegerError,
    MalformedTraceId,
    TraceIncomplete,
    TraceNotFound,
    jaeger_url,
    normalize_trace_id,
    settled,
)
from traceproof.spans import Span
from traceproof.text import wide_console


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="shoptrace-trace",
        description="Show one trace from Jaeger as a waterfall, with the log lines of every service that carry its id.",
    )
    parser.add_argument("trace_id", nargs="?", help="32 hex digits: the trace_id of an error body, or of a traceresponse header")
    parser.add_argument("--last-error", action="store_true", help="show the most recent failing trace instead")
    parser.add_argument("--service", default="checkout", help="whose failing traces --last-error searches (default: checkout)")
    parser.add_argument(
        "--lookback", type=float, default=60, metavar="MINUTES", help="how far back --last-error searches (default: 60)"
    )
    parser.add_argument(
        "--jaeger",
        default=None,
        metavar="URL",
        help=f"Jaeger's address (default: JAEGER_URL, else JAEGER_UI_URL, else {jaeger_url()})",
    )
    parser.add_argument(
        "--logs",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="read logs from these files (services run by hand) instead of `docker compose logs`; default: SHOPTRACE_LOGS",
    )
    parser.add_argument("--no-logs", action="store_true", help="show the trace only")
    parser.add_argument(
        "--wait", type=float, default=3.0, metavar="SECONDS", help="how long to wait for a trace still on its way (default: 3)"
    )
    args = parser.parse_args(argv)
    if bool(args.trace_id) == args.last_error:
        parser.error("give a trace id or --last-error (one of the two)")
    return args


#: A trace is shown once its span count has held this long (see traceproof.jaeger.settled).
#: How to make a failing trace on this project's stack, for a person who asked for the latest and has none.
FAILING_ORDER = """curl -s localhost:8080/checkout -H 'content-type: application/json' -d '{"sku": "fault-crash"}'"""
SETTLE_S = 0.4


def fetch(client: JaegerClient, trace_id: str, wait_s: float) -> list[Span]:
    """The trace, waiting up to ``wait_s`` while Jaeger does not have it yet or it is still growing."""
    try:
        return client.wait_for(trace_id, settled(SETTLE_S), timeout_s=wait_s, through_restarts=False)
    except TraceIncomplete as exc:
        if exc.spans:  # still growing at the deadline: show what there is
            return exc.spans
        return client.trace(trace_id)  # raises why there is nothing: not found, or Jaeger gone


def log_lines(args: argparse.Namespace, trace_id: str) -> tuple[list[logs.LogLine] | None, str]:
    """The trace's log lines and where they were read from (None and why, if they could not be)."""
    files = args.logs or logs.files_from_env()
    try:
        if files:
            return logs.of_trace(logs.from_files(files), trace_id), "from " + ", ".join(str(f) for f in files)
        return logs.of_trace(logs.from_compose(), trace_id), "from docker compose logs"
    except logs.LogsUnavailable as exc:
        return None, str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out, err = wide_console(), Console(stderr=True, soft_wrap=True)
    try:
        trace_id = normalize_trace_id(args.trace_id) if args.trace_id else None
        with JaegerClient(args.jaeger) as client:
            if trace_id is None:
                trace_id = client.latest_failing_trace(args.service, lookback_s=args.lookback * 60)
                err.print(f"most recent failing trace of {args.service}: {trace_id}", style="dim")
            spans = fetch(client, trace_id, args.wait)
            link = client.ui_link(trace_id)
    except MalformedTraceId as exc:
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 2
    except TraceNotFound as exc:
        hint = f": make one with {FAILING_ORDER}" if args.trace_id is None else ""
        err.print(f"error: {exc}{hint}", style="red", markup=False, highlight=False)
        return 1
    except JaegerError as exc:
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return 1
    lines, note = (None, "not read (--no-logs)") if args.no_logs else log_lines(args, trace_id)
    out.print(waterfall.render(trace_id, spans, link, lines, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
