"""`make load` against the real services: the mix it sends, the table it ends with, the links it offers."""

from __future__ import annotations

import argparse
import asyncio
import io
import re

import pytest
from rich.console import Console

from explore.load import parse_mix, percentiles, run
from tests.support.cli import run_module
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import TEST_JAEGER_UI_URL, ServiceProcess, free_port
from tests.support.traces import select


def test_load_drives_checkout_with_the_mix_and_sums_up_with_links_to_failed_traces(
    checkout: ServiceProcess, sink: OtlpSink
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
    assert 25 <= count <= 30 and 13 <= rate <= 16  # 2 s at 15/s, paced, not bursted
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
        spans = sink.store.wait_for(trace_id, lambda s: len(select(s, kind="SERVER")) == 2)
        assert select(spans, service="inventory", kind="SERVER")[0].status == "ERROR"


def test_each_result_knows_when_it_was_sent_and_its_trace(checkout: ServiceProcess, sink: OtlpSink) -> None:
    console = Console(file=io.StringIO())
    results = asyncio.run(run(checkout.url, 1.0, 10.0, {"item-123": 1.0}, 10, 10.0, 1, console))
    assert len(results) == 10 and all(r.outcome == 201 for r in results)
    sent = sorted(r.started_s for r in results)
    assert sent[0] < 0.05 and 0.8 <= sent[-1] < 1.0  # paced over the second, not bursted
    for result in results:
        assert result.trace_id and re.fullmatch(r"[0-9a-f]{32}", result.trace_id)
        assert sink.store.wait_for(result.trace_id, lambda s: bool(select(s, service="checkout", kind="SERVER")))


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
