"""`make load` against the real services: the mix it sends, the table it ends with, the links it offers."""

from __future__ import annotations

import argparse
import asyncio
import io
import re

import pytest
from rich.console import Console

from explore.load import parse_mix, percentiles, run, schedule
from tests.support.cli import run_module
from tests.support.fake_clock import FakeClock
from tests.support.processes import TEST_JAEGER_UI_URL, ServiceProcess, free_port
from traceproof.traces import Traces


def test_load_drives_checkout_with_the_mix_and_sums_up_with_links_to_failed_traces(
    checkout: ServiceProcess, traces: Traces
) -> None:
    result = run_module(
        "explore.load",
        "--url",
        checkout.url,
        "--duration",
        "2",
        "--rate",
        "15",
        "--mix",
        "item-123=2,sold-out=1,fault-crash=1",
        "--seed",
        "7",
        PROMETHEUS_URL=f"http://127.0.0.1:{free_port()}",  # these services export to the tests' sink, not the stack
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Prometheus: Prometheus is not reachable at" in out  # and the load's own report is whole all the same

    title = re.search(r"^(\d+) requests sent at ([\d.]+)/s, the last answer after ([\d.]+) s", out, re.M)
    assert title, out
    count, rate = int(title.group(1)), float(title.group(2))
    # 2 s at 15/s: every order of the schedule is sent, none before it is due, so never faster than
    # asked. How much slower depends on the machine; the schedule itself is tested below, on a fake clock.
    assert count == 30 and rate <= 15.0
    rows = {
        m.group(1): m.groups()
        for m in re.finditer(
            r"^│ (\S+)\s+│\s+(\d+) │\s+(\d+)% │ (.*?)\s+│\s+([\d,]+) ms │\s+([\d,]+) ms │\s+([\d,]+) ms │", out, re.M
        )
    }
    assert set(rows) == {"201", "409", "502", "all"}, out
    assert sum(int(rows[code][1]) for code in ("201", "409", "502")) == int(rows["all"][1]) == count
    # Each status holds only the SKUs that answer it.
    assert rows["201"][3].split()[0] == "item-123" and "sold-out" in rows["409"][3] and "fault-crash" in rows["502"][3]
    # Percentiles are ordered.
    p50, p90, p99 = (int(v.replace(",", "")) for v in rows["all"][4:7])
    assert p50 <= p90 <= p99

    # Three failed requests to open, each a real failing trace.
    links = re.findall(rf"^\s+502 fault-crash\s+{re.escape(TEST_JAEGER_UI_URL)}/trace/([0-9a-f]{{32}})$", out, re.M)
    assert "failed requests to open (3 of" in out and len(links) == 3
    for trace_id in links:
        trace = traces.get(trace_id, until=lambda t: len(t.find(kind="server")) == 2)
        assert trace.one(service="inventory", kind="server").status == "error"


def test_each_result_knows_when_it_was_sent_and_its_trace(checkout: ServiceProcess, traces: Traces) -> None:
    console = Console(file=io.StringIO())
    results = asyncio.run(run(checkout.url, 1.0, 10.0, {"item-123": 1.0}, 10, 10.0, 1, console))
    assert len(results) == 10 and all(r.outcome == 201 for r in results)
    sent = sorted(r.started_s for r in results)
    # Paced, not bursted: none before it was due (asyncio may wake a clock tick early, hence the µs).
    assert all(at >= i / 10.0 - 1e-6 for i, at in enumerate(sent)), sent
    for result in results:
        assert result.trace_id and re.fullmatch(r"[0-9a-f]{32}", result.trace_id)
        assert traces.get(result.trace_id, until=lambda t: bool(t.find(service="checkout", kind="server")))


def test_the_schedule_is_one_order_every_1_over_rate_s_for_the_duration() -> None:
    assert schedule(2.0, 15.0) == pytest.approx([i / 15 for i in range(30)])
    assert schedule(0.01, 10.0) == [0.0]  # always at least one order


def run_on(clock: FakeClock, duration_s: float, rate: float) -> list[float]:
    """When each order of a load went out, on ``clock``, against a port where nothing listens."""
    results = asyncio.run(
        run(
            f"http://127.0.0.1:{free_port()}",
            duration_s,
            rate,
            {"item-123": 1.0},
            10,
            10.0,
            1,
            Console(file=io.StringIO()),
            clock=clock.monotonic,
            sleep=clock.asleep,
        )
    )
    assert {r.outcome for r in results} == {"ConnectError"}
    return sorted(r.started_s for r in results)


def test_orders_go_out_when_due_and_late_ones_at_once_without_shifting_the_rest() -> None:
    on_time = FakeClock()
    assert run_on(on_time, 1.0, 10.0) == pytest.approx([i / 10 for i in range(10)])

    busy = FakeClock()
    busy.stall_after(4, 0.35)  # the 4th order, due at 0.3 s, is sent at 0.65 s
    sent = run_on(busy, 1.0, 10.0)
    # The orders due meanwhile (0.4, 0.5, 0.6) go out at once; from 0.7 on, each is on time again.
    assert sent == pytest.approx([0.0, 0.1, 0.2, 0.65, 0.65, 0.65, 0.65, 0.7, 0.8, 0.9])


def test_load_says_when_checkout_is_not_there() -> None:
    result = run_module("explore.load", "--url", f"http://127.0.0.1:{free_port()}", "--duration", "0.5", "--rate", "4")
    assert result.returncode == 1
    assert "ConnectError" in result.stdout and "checkout did not answer" in result.stdout


def test_the_mix_is_sku_equals_weight() -> None:
    assert parse_mix("item-123=80, sold-out=10,fault-slow") == {"item-123": 80.0, "sold-out": 10.0, "fault-slow": 1.0}
    for bad in ("item-123=x", "", "a=0", "a=-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_mix(bad)


def test_percentiles_come_from_the_recorded_latencies() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    p50, p90, p99 = percentiles(latencies)
    assert p50 == pytest.approx(0.0505) and p90 == pytest.approx(0.0901) and p99 == pytest.approx(0.09901)
    assert percentiles([0.2]) == (0.2, 0.2, 0.2)
