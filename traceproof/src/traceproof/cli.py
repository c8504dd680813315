"""``traceproof``: one command, a subcommand per tool; ``traceproof doctor``: where did the last minutes' traces break, and why.

``traceproof watch`` (:mod:`traceproof.watch`) judges windows continuously
with the same rules and serves the counts to Prometheus.

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
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from traceproof import __version__
from traceproof.doctor.examine import examine
from traceproof.doctor.pipeline import PrometheusCounters
from traceproof.doctor.report import BROKEN, CANNOT_TELL, CLEAN, as_json, print_report, verdict
from traceproof.errors import SourceError
from traceproof.jaeger import jaeger_url
from traceproof.sources import HEADERS_VARIABLE, TraceSource, open_source, parse_headers
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
    watch = commands.add_parser(
        "watch",
        help="judge traces continuously with the doctor's rules and serve /metrics, /breaks and /healthz",
        description="Judge traces continuously, window after window, with the doctor's rules; serve the counts on /metrics "
        "(Prometheus), the most recent breaks on /breaks (JSON) and /healthz. Runs until stopped.",
    )
    add_watch_options(watch)
    args = parser.parse_args(argv)
    if args.command == "watch":
        try:
            args.settings = watch_settings(args)
            args.host, args.port = listen_address(args.listen)
        except argparse.ArgumentTypeError as exc:
            watch.error(str(exc))
        return args
    try:
        args.wait_s = duration_s(args.wait)
        now = time.time_ns()
        if moment_ns(args.since, now) >= moment_ns(args.until, now):
            raise argparse.ArgumentTypeError(f"--since {args.since} is not before --until {args.until}")
    except argparse.ArgumentTypeError as exc:
        doctor.error(str(exc))
    return args


def add_watch_options(watch: argparse.ArgumentParser) -> None:
    """``traceproof watch``'s options: the doctor's source options, its schedule, its bounds, where it listens."""
    from traceproof import watch as w  # its defaults (it imports no more than the doctor does)

    add_source_options(watch)
    watch.add_argument("--service", action="append", metavar="NAME", help="judge only the traces that touch this service")
    watch.add_argument(
        "--listen", default="127.0.0.1:9466", help="where /metrics, /breaks and /healthz answer, HOST:PORT (default: %(default)s)"
    )
    watch.add_argument(
        "--link-base",
        metavar="URL",
        help="a trace UI's address (Jaeger's, say): /breaks links URL/trace/ID where the source gives no link, as a file does",
    )
    when = watch.add_argument_group("when windows are judged")
    when.add_argument("--every", default=f"{w.EVERY_S:g}s", help="time between two ticks (default: %(default)s)")
    when.add_argument(
        "--settle",
        default=f"{w.SETTLE_S:g}s",
        help="how old a window's end must be before it is judged, so its spans have arrived (default: %(default)s)",
    )
    when.add_argument(
        "--late-after",
        default=f"{w.LATE_AFTER_S:g}s",
        help="how long after its first judgement a trace missing a parent is judged again, before the parent counts "
        "as lost (default: %(default)s)",
    )
    when.add_argument(
        "--context",
        default=f"{w.CONTEXT_S:g}s",
        help="how far before its window a window is read, for evidence only (default: %(default)s)",
    )
    when.add_argument(
        "--max-window", default=f"{w.MAX_WINDOW_S:g}s", help="the longest window judged at once (default: %(default)s)"
    )
    bounds = watch.add_argument_group("what it may hold")
    bounds.add_argument(
        "--max-spans",
        type=int,
        default=MAX_SPANS,
        help="the most spans one read of Jaeger may hold (a window and its context), or the tailed --otlp-file holds "
        "(the oldest traces let go past it), about 3 KB each (default: %(default)s)",
    )
    bounds.add_argument("--page-size", type=int, default=PAGE_SIZE, help="traces asked of Jaeger per call (default: %(default)s)")
    bounds.add_argument(
        "--max-held", type=int, default=w.MAX_HELD, help="traces held at once for the late re-check (default: %(default)s)"
    )
    bounds.add_argument(
        "--max-series",
        type=int,
        default=w.MAX_SERIES,
        help="label sets the labelled metrics may hold together; more are refused and counted (default: %(default)s)",
    )
    bounds.add_argument("--recent", type=int, default=w.RECENT, help="breaks kept for /breaks (default: %(default)s)")


def watch_settings(args: argparse.Namespace) -> Any:
    """The watcher's :class:`~traceproof.watch.Settings` from its options; ArgumentTypeError for one that does not fit."""
    from traceproof.watch import Settings

    settings = Settings(
        every_s=duration_s(args.every),
        settle_s=duration_s(args.settle),
        late_after_s=duration_s(args.late_after),
        context_s=duration_s(args.context),
        max_window_s=duration_s(args.max_window),
        max_held=args.max_held,
        recent=args.recent,
        services=tuple(args.service) if args.service else None,
        link_base=args.link_base or None,
    )
    if settings.every_s <= 0 or settings.max_window_s <= 0:
        raise argparse.ArgumentTypeError("--every and --max-window must be longer than 0s")
    for name in ("max_held", "recent", "max_series", "max_spans", "page_size"):
        if getattr(args, name) < (1 if name in ("max_spans", "page_size") else 0):
            raise argparse.ArgumentTypeError(f"--{name.replace('_', '-')} {getattr(args, name)} is too small")
    return settings


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9466`` for IPv6) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"--listen {text!r} is not HOST:PORT, as in 0.0.0.0:9466")
    return host.strip("[]") or "0.0.0.0", int(port)


def main(
    argv: Sequence[str] | None = None,
    now_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    args = parse_args(argv)
    if args.command == "watch":
        return watch(args, now_ns, sleep)
    return doctor(args, now_ns, sleep)


def source_of(args: argparse.Namespace) -> AbstractContextManager[TraceSource]:
    """The trace source the options name (:func:`add_source_options`), open while the ``with`` lasts."""
    return open_source(
        args.jaeger,
        args.otlp_file,
        api=args.jaeger_api,
        headers=parse_headers(args.jaeger_header),
        ca_file=args.jaeger_ca_file,
        page_size=args.page_size,
        max_spans=args.max_spans,
    )


def watch(
    args: argparse.Namespace,
    now_ns: Callable[[], int],
    sleep: Callable[[float], None],
    ticks: int | None = None,
    serving: Callable[[tuple[str, int]], None] | None = None,
) -> int:
    """Serve and watch until stopped (or ``ticks`` ticks, for tests); 2 when the source or the address cannot be opened."""
    import logging
    import threading

    import prometheus_client

    from traceproof.file_tail import OtlpFileTail
    from traceproof.watch import Watcher
    from traceproof.watch_http import serve
    from traceproof.watch_metrics import WatchMetrics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # a _created series per counter: noise
    err = Console(stderr=True, soft_wrap=True)
    # The Collector's file is tailed: each byte parsed once, the spans held as long as a window may read them.
    opened: AbstractContextManager[TraceSource] = (
        nullcontext(OtlpFileTail(args.otlp_file, args.settings.retention_s, args.max_spans, now_ns))
        if args.otlp_file is not None
        else source_of(args)
    )
    try:
        with opened as source:
            watcher = Watcher(source, WatchMetrics(args.max_series), args.settings, now_ns)
            try:
                server = serve(watcher, args.host, args.port)
            except OSError as exc:
                err.print(f"error: cannot listen on {args.listen}: {exc.strerror or exc}", style="red", markup=False)
                return CANNOT_TELL
            thread = threading.Thread(target=server.serve_forever, name="traceproof-watch-http", daemon=True)
            thread.start()
            address = server.server_address
            logging.getLogger("traceproof.watch").info(
                "watching %s; /metrics, /breaks and /healthz on %s:%s", source, address[0], address[1]
            )
            if serving is not None:
                serving((str(address[0]), int(address[1])))
            try:
                watcher.run(sleep, ticks)
            except KeyboardInterrupt:
                pass
            finally:
                server.shutdown()
                server.server_close()
    except SourceError as exc:  # only what opening the source says (a bad header, say): reading never ends the watch
        err.print(f"error: {exc}", style="red", markup=False, highlight=False)
        return CANNOT_TELL
    return CLEAN


def doctor(args: argparse.Namespace, now_ns: Callable[[], int], sleep: Callable[[float], None]) -> int:
    err = Console(stderr=True, soft_wrap=True)
    now = now_ns()
    start_ns, end_ns = moment_ns(args.since, now), moment_ns(args.until, now)
    counters = PrometheusCounters(args.prometheus) if args.prometheus else None
    try:
        with source_of(args) as source:
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
