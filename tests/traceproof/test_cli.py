"""``traceproof doctor`` against a fake Jaeger: its exit statuses, its JSON, what a person reads, and the wait for late spans."""

from __future__ import annotations

import json
import socket
import tomllib
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import import_module
from typing import Any

import pytest

from builder import Window, ns
from fake_jaeger import FakeJaeger
from tests.support.cli import run_module
from tests.support.processes import ROOT
from traceproof.cli import main, moment_ns

#: The instant the doctor runs at: its window is the minute before.
NOW_NS = ns(10_000)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.out)
        return parsed


@pytest.fixture
def doctor(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    def run(jaeger_url: str, *args: str, sleep: Callable[[float], None] | None = None) -> Run:
        def no_sleep(seconds: float) -> None:
            raise AssertionError(f"the doctor waited {seconds} s, with nothing to wait for")

        code = main(["doctor", "--jaeger", jaeger_url, "--since", "1m", *args], now_ns=lambda: NOW_NS, sleep=sleep or no_sleep)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run


def test_a_window_with_nothing_broken_exits_0(doctor: Callable[..., Run]) -> None:
    w = Window()
    for i in range(4):
        w.order(i * 200)
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url, "--json")

    assert run.code == 0
    report = run.json()
    assert report["traces_checked"] == 4 and report["breaks"] == []
    assert report["edges"] == [{"caller": "checkout", "callee": "inventory", "traces_checked": 4, "connected": 4, "broken": 0}]
    assert report["exit_status"] == 0 and "No broken context in 4 traces" in report["verdict"]


def test_a_window_with_a_break_exits_1_and_its_json_names_kind_service_peer_count_and_traces(doctor: Callable[..., Run]) -> None:
    w = Window()
    w.order(0)
    order = w.order(200, stock_call="no_client_span")
    (orphan,) = [s for s in w.spans if s.service == "inventory" and s.parent_id is None]
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url, "--json")

    assert run.code == 1
    report = run.json()
    assert report["traces_checked"] == 3
    (found,) = report["breaks"]
    assert {k: found[k] for k in ("kind", "service", "peer", "count", "trace_ids")} == {
        "kind": "no_client_span",
        "service": "checkout",
        "peer": "inventory",
        "count": 1,
        "trace_ids": [orphan.trace_id],
    }
    assert found["occurrences"] == [{"trace_id": orphan.trace_id, "span_id": orphan.span_id, "split_from": order.trace_id}]
    assert found["examples"] == [[f"{jaeger.url}/trace/{order.trace_id}", f"{jaeger.url}/trace/{orphan.trace_id}"]]
    assert found["cause"] and found["fix"] and found["evidence"]
    assert "Broken context" in run.err


def test_a_person_reads_the_edge_the_break_its_cause_fix_and_both_halves(doctor: Callable[..., Run]) -> None:
    w = Window()
    w.order(0)
    order = w.order(200)
    receipt = w.work("checkout", "render receipt", 240, 250)
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url)

    assert run.code == 1
    text = " ".join(run.out.split())  # rich wraps where it likes
    assert "checkout → inventory" in text
    assert "✗ context_lost · checkout · 1 time · fix in checkout" in text
    assert "cause" in text and "fix" in text and "copy_context" in text
    assert f"{jaeger.url}/trace/{order.trace_id} the request" in text
    assert f"{jaeger.url}/trace/{receipt.trace_id} the piece that broke off" in text
    assert "Broken context in 2 traces of 3: 1 break (context_lost)" in text


def test_jaeger_unreachable_exits_2_and_says_where_to_point_it(doctor: Callable[..., Run]) -> None:
    with socket.socket() as s:  # a port nobody listens on: bound, then let go
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = doctor(f"http://127.0.0.1:{port}")

    assert run.code == 2
    assert "not reachable" in run.err and "--jaeger" in run.err


def test_an_empty_window_exits_2_and_says_what_to_do(doctor: Callable[..., Run]) -> None:
    w = Window()
    w.order(-120_000)  # two minutes before: outside the window
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url, "--json")

    assert run.code == 2
    assert run.json()["traces_checked"] == 0
    assert "holds no trace that started in the last 1m" in run.err and "--since" in run.err


def lost_parent_window() -> tuple[Window, str, Any]:
    """Two orders; the second's SERVER span has not reached Jaeger (yet)."""
    w = Window()
    w.order(0)
    order = w.order(200)
    w.spans.remove(order)
    return w, order.trace_id, order


def test_a_parent_that_arrives_while_the_doctor_waits_was_on_its_way_and_is_no_break(doctor: Callable[..., Run]) -> None:
    w, trace_id, parent = lost_parent_window()
    waits = []
    with FakeJaeger(w.spans) as jaeger:

        def the_parent_arrives(seconds: float) -> None:
            waits.append(seconds)
            with jaeger.lock:
                jaeger.spans.append(parent)

        run = doctor(jaeger.url, "--json", sleep=the_parent_arrives)

    assert waits == [10.0]  # the default --wait
    assert run.code == 0
    report = run.json()
    assert report["breaks"] == []
    assert report["lost_parents"] == {"waited_s": 10.0, "arrived_late": [trace_id], "still_missing": []}


def test_a_parent_still_missing_after_the_wait_was_dropped(doctor: Callable[..., Run]) -> None:
    w, trace_id, _ = lost_parent_window()
    waits: list[float] = []
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url, "--json", "--wait", "3s", sleep=waits.append)

    assert waits == [3.0]
    assert run.code == 1
    report = run.json()
    assert [(b["kind"], b["service"], b["trace_ids"]) for b in report["breaks"]] == [("lost_parent", "checkout", [trace_id])]
    assert report["lost_parents"] == {"waited_s": 3.0, "arrived_late": [], "still_missing": [trace_id]}


def test_told_not_to_wait_the_doctor_says_it_did_not(doctor: Callable[..., Run]) -> None:
    w, _, _ = lost_parent_window()
    with FakeJaeger(w.spans) as jaeger:
        run = doctor(jaeger.url, "--wait", "0s")

    assert run.code == 1
    assert "did not wait to see if they were still on their way" in " ".join(run.out.split())


def test_a_malformed_duration_is_refused_with_an_example() -> None:
    with pytest.raises(SystemExit) as exit:
        main(["doctor", "--since", "fifteen"])
    assert exit.value.code == 2


def test_a_window_by_its_times_reads_only_the_traces_inside_it(doctor: Callable[..., Run]) -> None:
    """--since and --until as ISO 8601 times, as a test that knows when its own traffic ran passes them."""
    w = Window()
    for i in range(4):
        w.order(i * 200)
    first, last = min(s.start_ns for s in w.spans), max(s.start_ns for s in w.spans)
    iso = lambda t_ns: datetime.fromtimestamp(t_ns / 1e9, UTC).isoformat()  # noqa: E731
    with FakeJaeger(w.spans) as jaeger:
        everything = doctor(jaeger.url, "--json", "--since", iso(first - 1_000_000), "--until", iso(last + 1_000_000))
        after = doctor(jaeger.url, "--since", iso(last + 1_000_000), "--until", iso(NOW_NS))
    assert everything.code == 0 and everything.json()["traces_checked"] == 4
    assert after.code == 2 and "holds no trace that started in the window" in " ".join(after.err.split() + after.out.split())


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(SystemExit) as exit:
        main(["doctor", "--since", "5m", "--until", "10m"])
    assert exit.value.code == 2
    assert moment_ns("2026-12-02T14:05:00", 0) == moment_ns("2026-12-02T14:05:00+00:00", 0) == 1796220300 * 10**9


def test_the_console_script_and_python_m_run_the_same_main() -> None:
    scripts = tomllib.loads((ROOT / "traceproof" / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["traceproof"].partition(":")
    assert getattr(import_module(module), function) is main

    result = run_module("traceproof", "doctor", "--help")
    assert result.returncode == 0, result.stderr
    assert "Exit status: 0 nothing broken, 1 something broken, 2 cannot tell" in " ".join(result.stdout.split())
