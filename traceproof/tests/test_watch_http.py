"""``traceproof watch`` over real HTTP on an ephemeral port: /metrics, /breaks, /healthz; and its command line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from builder import Window, ns
from fake_jaeger import otlp_json
from traceproof.cli import main, parse_args, watch
from traceproof.sources import MemorySource
from traceproof.watch import Settings, Watcher
from traceproof.watch_http import serve
from traceproof.watch_metrics import WatchMetrics

SETTINGS = Settings(every_s=10, settle_s=30, late_after_s=60, context_s=10)


def broken_shop() -> Window:
    w = Window()
    w.order(0)
    w.order(200, stock_call="not_propagated")
    return w


@pytest.fixture
def served() -> Iterator[tuple[Watcher, list[int], str]]:
    """A watcher over a broken order, its clock (a one-item list the test moves), and the server's address."""
    w = broken_shop()
    clock = [ns(0) + 30 * 10**9]
    source = MemorySource(lambda: list(w.spans))
    source.link = lambda trace_id: f"http://jaeger.example/trace/{trace_id}"  # type: ignore[method-assign]
    watcher = Watcher(source, WatchMetrics(), SETTINGS, lambda: clock[0])
    server = serve(watcher, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    try:
        yield watcher, clock, f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_healthz_is_503_until_the_first_window_was_attempted_then_200(served: tuple[Watcher, list[int], str]) -> None:
    watcher, clock, url = served
    starting = httpx.get(f"{url}/healthz")
    assert starting.status_code == 503 and starting.json()["status"] == "starting"
    clock[0] += 10 * 10**9
    watcher.tick()
    ok = httpx.get(f"{url}/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"status": "ok", "last_window_end": "2023-11-14T22:13:30.000Z", "lag_s": 30.0}


def test_metrics_and_breaks_answer_with_what_was_judged(served: tuple[Watcher, list[int], str]) -> None:
    watcher, clock, url = served
    clock[0] += 10 * 10**9
    watcher.tick()

    metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    assert 'traceproof_breaks_total{kind="not_propagated",peer="inventory",service="checkout"} 1.0' in lines
    assert 'traceproof_traces_judged_total{service="checkout"} 2.0' in lines
    assert "traceproof_windows_judged_total 1.0" in lines
    assert "traceproof_lag_seconds 30.0" in lines
    assert 'traceproof_limit{name="max_spans"} 500000.0' in lines
    assert "# TYPE traceproof_spans_lost_total counter" in lines

    breaks = httpx.get(f"{url}/breaks").json()["breaks"]
    assert len(breaks) == 1
    (found,) = breaks
    assert (found["kind"], found["service"], found["peer"]) == ("not_propagated", "checkout", "inventory")
    assert found["links"] == [f"http://jaeger.example/trace/{t}" for t in found["trace_ids"]]
    assert found["started"] == "2023-11-14T22:13:20.212Z" and found["judged"] == "2023-11-14T22:14:00.000Z"
    assert httpx.get(f"{url}/breaks?limit=0").json() == {"breaks": []}
    assert httpx.get(f"{url}/breaks?limit=many").status_code == 400
    assert httpx.get(f"{url}/nothing").status_code == 404


def test_the_command_line_takes_its_options_and_says_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(
        ["watch", "--otlp-file", "traces/", "--every", "5s", "--settle", "1m", "--late-after", "2m", "--listen", "0.0.0.0:9999"]
    )
    assert (args.settings.every_s, args.settings.settle_s, args.settings.late_after_s) == (5, 60, 120)
    assert (args.host, args.port, args.max_series, args.settings.services) == ("0.0.0.0", 9999, 1000, None)
    assert parse_args(["watch", "--service", "a", "--service", "b"]).settings.services == ("a", "b")
    for wrong in (["--every", "soon"], ["--listen", "nowhere"], ["--every", "0s"], ["--max-series", "-1"]):
        with pytest.raises(SystemExit) as exited:
            parse_args(["watch", *wrong])
        assert exited.value.code == 2
    with pytest.raises(SystemExit) as helped:
        main(["watch", "--help"])
    assert helped.value.code == 0
    assert "--late-after" in capsys.readouterr().out


def test_the_command_serves_what_it_judges_from_the_collectors_file(tmp_path: Path) -> None:
    w = broken_shop()
    file = tmp_path / "traces.jsonl"
    file.write_text("".join(json.dumps(otlp_json([s])["result"]) + "\n" for s in w.spans) + "not json\n")
    args = parse_args(["watch", "--otlp-file", str(file), "--listen", "127.0.0.1:0"])
    clock = [ns(0) + 30 * 10**9]
    address: list[str] = []
    scraped: list[str] = []

    def sleep(seconds: float) -> None:  # the loop's wait: the clock moves; after the first tick, a scrape
        if address and not scraped and clock[0] > ns(0) + 30 * 10**9:
            scraped.append(httpx.get(f"{address[0]}/metrics").text)
        clock[0] += round(seconds * 1e9)

    code = watch(args, lambda: clock[0], sleep, ticks=2, serving=lambda at: address.append(f"http://{at[0]}:{at[1]}"))

    assert code == 0
    assert 'traceproof_breaks_total{kind="not_propagated",peer="inventory",service="checkout"} 1.0' in scraped[0]
    assert "traceproof_lines_skipped_total 1.0" in scraped[0]  # the file tailed, its bad line skipped and counted


def test_link_base_links_breaks_where_the_source_gives_no_link_and_never_over_one() -> None:
    args = parse_args(["watch", "--otlp-file", "traces/", "--link-base", "http://localhost:16686/"])
    assert args.settings.link_base == "http://localhost:16686/"
    assert parse_args(["watch"]).settings.link_base is None

    w = broken_shop()
    clock = [ns(0) + 30 * 10**9]
    plain = MemorySource(lambda: list(w.spans))  # a file's or the SDK's spans: no UI of their own
    linked = MemorySource(lambda: list(w.spans))
    linked.link = lambda trace_id: f"http://jaeger.example/trace/{trace_id}"  # type: ignore[method-assign]
    settings = replace(SETTINGS, link_base=args.settings.link_base)
    found = {}
    for name, source, given in (("none", plain, SETTINGS), ("base", plain, settings), ("source", linked, settings)):
        watcher = Watcher(source, WatchMetrics(), given, lambda: clock[0])
        clock[0] = ns(0) + 40 * 10**9
        watcher.tick()
        (found[name],) = [b.as_json() for b in watcher.recent()]
        clock[0] = ns(0) + 30 * 10**9

    trace_ids = found["base"]["trace_ids"]
    assert len(trace_ids) == 2
    assert found["none"]["links"] == [None, None]
    assert found["base"]["links"] == [f"http://localhost:16686/trace/{t}" for t in trace_ids]
    assert found["source"]["links"] == [f"http://jaeger.example/trace/{t}" for t in trace_ids]
