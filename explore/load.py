"""``shoptrace-load`` / ``make load``: drive checkout at a steady rate with a mix of SKUs, then sum up.

Mostly good orders, some ``sold-out`` (409), some ``fault-crash`` (502), some
``fault-slow`` (504 at checkout's deadline), in a configurable mix. A live
progress bar while it runs; at the end a table of status codes with latency
percentiles, the Jaeger links of a few failed requests to open, and what
Prometheus counted of the same orders (explore.load_metrics).

Why httpx + rich rather than locust: this is a fixed-rate open-loop
generator for one endpoint on one machine, and a person should see the trace
links of its failures. httpx is already the services' client, and rich draws
the progress and the table. The pacing is a fixed schedule (:func:`schedule`):
order i is due i/rate seconds after the start, whatever the answers' latency,
and one that falls due late (a busy machine) goes out at once, so the load
sends exactly duration × rate orders at the rate asked. locust would bring
gevent, Flask and its own web UI, and its users run in a closed loop (each
waits for its answer), so a slow SKU would lower the rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from explore import load_metrics
from traceproof.prometheus import PrometheusClient, PrometheusError, prometheus_url
from traceproof.text import wide_console

DEFAULT_MIX = "item-123=80,sold-out=10,fault-crash=5,fault-slow=5"

#: What the schedule runs on: a clock in seconds and a sleep (the tests pass a fake pair).
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Result:
    sku: str
    #: The HTTP status, or the name of the transport error (ConnectError, ReadTimeout...).
    outcome: int | str
    latency_s: float
    trace_url: str | None
    #: When it was sent, in seconds after the load started.
    started_s: float = 0.0
    #: The trace it made, from the ``traceresponse`` header (None if no answer, or tracing is off).
    trace_id: str | None = None

    @property
    def failed(self) -> bool:
        return not isinstance(self.outcome, int) or self.outcome >= 500


def parse_mix(text: str) -> dict[str, float]:
    """``sku=weight,...`` into weights; a SKU without ``=weight`` weighs 1."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        sku, _, weight = part.partition("=")
        try:
            mix[sku.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight in {part!r}: expected sku=NUMBER") from None
        if mix[sku.strip()] < 0:
            raise argparse.ArgumentTypeError(f"negative weight in {part!r}")
    if not mix or sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError(f"no SKU with a positive weight in {text!r}")
    return mix


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p90, p99 of the recorded latencies (inclusive method: never beyond the largest)."""
    if len(latencies) == 1:
        return (latencies[0],) * 3
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return cuts[49], cuts[89], cuts[98]


def _trace_url(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("trace_url") if isinstance(body, dict) else None


def _trace_id(response: httpx.Response) -> str | None:
    """The trace id of ``traceresponse: 00-<trace id>-<span id>-<flags>``."""
    parts = response.headers.get("traceresponse", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def schedule(duration_s: float, rate: float) -> list[float]:
    """When each order is due, in seconds after the start: one every 1/rate s from 0, duration × rate of them."""
    return [i / rate for i in range(max(1, round(duration_s * rate)))]


async def _order(client: httpx.AsyncClient, sku: str, load_started: float, clock: Clock) -> Result:
    started = clock()
    try:
        response = await client.post("/checkout", json={"sku": sku, "quantity": 1})
    except httpx.TransportError as exc:
        return Result(sku, type(exc).__name__, clock() - started, None, started - load_started)
    latency = clock() - started
    trace_url = _trace_url(response) if response.status_code >= 400 else None
    return Result(sku, response.status_code, latency, trace_url, started - load_started, _trace_id(response))


async def run(
    url: str,
    duration_s: float,
    rate: float,
    mix: dict[str, float],
    concurrency: int,
    timeout_s: float,
    seed: int | None,
    console: Console,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> list[Result]:
    """Send the orders of :func:`schedule`, at most ``concurrency`` in flight, and wait for all their answers."""
    rng = random.Random(seed)
    skus, weights = list(mix), list(mix.values())
    due = schedule(duration_s, rate)
    in_flight = asyncio.Semaphore(concurrency)
    results: list[Result] = []
    failed = 0

    progress = Progress(
        TextColumn("[bold]load"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, limits=limits) as client:
        with progress:
            task = progress.add_task("load", total=len(due), failed=0)
            started = clock()

            async def one(sku: str) -> None:
                nonlocal failed
                try:
                    result = await _order(client, sku, started, clock)
                finally:
                    in_flight.release()
                results.append(result)
                failed += result.failed
                progress.update(task, advance=1, failed=failed)

            async with asyncio.TaskGroup() as group:
                for due_s in due:
                    await sleep(max(0.0, started + due_s - clock()))
                    await in_flight.acquire()
                    group.create_task(one(rng.choices(skus, weights)[0]))
    return results


def report(results: list[Result], wall_s: float, links: int = 3) -> Group:
    """The table (count, status codes, p50/p90/p99) and a few failed requests' trace links."""
    # One interval fewer than requests: n requests paced 1/rate apart take (n - 1)/rate to send.
    sent_s = max(r.started_s for r in results)
    rate = (len(results) - 1) / sent_s if sent_s > 0 else float(len(results))
    title = f"{len(results)} requests sent at {rate:.1f}/s, the last answer after {wall_s:.1f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("status")
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("SKUs")
    for column in ("p50", "p90", "p99"):
        table.add_column(column, justify="right")

    def row(label: str, group: list[Result], style: str = "") -> None:
        p50, p90, p99 = percentiles([r.latency_s for r in group])
        skus = ", ".join(f"{sku} {n}" for sku, n in Counter(r.sku for r in group).most_common())
        table.add_row(
            Text(label, style=style),
            str(len(group)),
            f"{len(group) / len(results):.0%}",
            skus,
            *(f"{v * 1000:,.0f} ms" for v in (p50, p90, p99)),
        )

    outcomes = sorted({r.outcome for r in results}, key=str)
    for outcome in outcomes:
        group = [r for r in results if r.outcome == outcome]
        row(str(outcome), group, "red" if group[0].failed else "green" if outcome == 201 else "yellow")
    table.add_section()
    row("all", results, "bold")

    parts: list[Text | Table] = [table]
    failed = [r for r in results if r.failed and r.trace_url]
    if failed:
        parts.append(
            Text(f"\nfailed requests to open ({min(links, len(failed))} of {sum(r.failed for r in results)}):", style="bold")
        )
        # The latest failures of different kinds first: the most varied stories to read.
        shown: list[Result] = []
        for result in sorted(failed, key=lambda r: str(r.outcome)):
            if len(shown) < links and all(r.outcome != result.outcome for r in shown):
                shown.append(result)
        shown += [r for r in reversed(failed) if r not in shown][: links - len(shown)]
        for result in shown:
            parts.append(Text(f"  {result.outcome} {result.sku:<12} {result.trace_url}"))
    return Group(*parts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="shoptrace-load", description="Drive checkout at a steady rate with a mix of SKUs.")
    parser.add_argument(
        "--url",
        default=os.environ.get("CHECKOUT_URL", "http://localhost:8080"),
        help="checkout (default: CHECKOUT_URL, else http://localhost:8080)",
    )
    parser.add_argument("--duration", type=float, default=10.0, metavar="SECONDS", help="how long to send (default: 10)")
    parser.add_argument("--rate", type=float, default=20.0, metavar="PER_SECOND", help="orders per second (default: 20)")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix(DEFAULT_MIX),
        metavar="SKU=WEIGHT,...",
        help=f"SKUs and their weights (default: {DEFAULT_MIX})",
    )
    parser.add_argument("--concurrency", type=int, default=100, help="most requests in flight at once (default: 100)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per request (default: 10)")
    parser.add_argument("--seed", type=int, default=None, help="fix the random SKU sequence")
    parser.add_argument(
        "--prometheus",
        default=None,
        metavar="URL",
        help=f"where to read what the spans' metrics counted (default: PROMETHEUS_URL, else {prometheus_url()})",
    )
    parser.add_argument("--no-metrics", action="store_true", help="do not ask Prometheus")
    args = parser.parse_args(argv)
    for name in ("duration", "rate", "concurrency", "timeout"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = wide_console()
    with PrometheusClient(args.prometheus) as prometheus:
        counts, why_not = (None, "not asked (--no-metrics)") if args.no_metrics else load_metrics.start(prometheus)
        started = time.monotonic()
        results = asyncio.run(
            run(args.url, args.duration, args.rate, args.mix, args.concurrency, args.timeout, args.seed, console)
        )
        console.print(report(results, time.monotonic() - started))
        if results and all(not isinstance(r.outcome, int) for r in results):
            console.print(f"checkout did not answer at {args.url}: is the stack up (`make up`)?", style="bold red")
            return 1
        console.print()
        if counts is None:
            console.print(f"Prometheus: {why_not}", style="yellow", markup=False, highlight=False)
        else:
            console.print("waiting for Prometheus to count the orders' spans (up to 60 s)...", style="dim")
            try:
                grown, complete = counts.grown(orders=len(results), wait_s=60.0)
            except PrometheusError as exc:
                console.print(f"Prometheus: {exc}", style="yellow", markup=False, highlight=False)
            else:
                failed = sum(r.failed for r in results)
                console.print(load_metrics.report(grown, complete, sent=len(results), failed=failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
