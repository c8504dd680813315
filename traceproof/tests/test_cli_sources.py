"""``traceproof doctor`` on the Collector's file and with --service: its verdicts, and each failure as one sentence, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder import Window, ns
from fake_jaeger import otlp_json
from traceproof.cli import main

NOW_NS = ns(60_000)


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["doctor", "--since", "1m", "--wait", "0s", *args], now_ns=lambda: NOW_NS, sleep=lambda s: None)
    out, err = capsys.readouterr()
    return code, out, err


def write(w: Window, path: Path) -> Path:
    path.write_text("".join(json.dumps(otlp_json([s])["result"]) + "\n" for s in w.spans))
    return path


def test_a_break_in_the_collectors_file_is_found_and_service_keeps_to_your_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = Window()
    w.order(1000)
    w.order(2000, stock_call="not_propagated")
    other_team = w.request("billing", "GET", "/invoice", 3000, 3050)
    file = write(w, tmp_path / "traces.jsonl")

    code, out, _ = doctor(capsys, "--otlp-file", str(file), "--json")
    report = json.loads(out)
    assert code == 1
    assert [(b["kind"], b["service"], b["peer"]) for b in report["breaks"]] == [("not_propagated", "checkout", "inventory")]
    assert report["window"]["services"] == ["billing", "checkout", "inventory"]

    code, out, _ = doctor(capsys, "--otlp-file", str(file), "--service", "billing", "--json")
    report = json.loads(out)
    assert code == 0, "another team's broken traces are not judged"
    assert (report["window"]["services"], report["traces_checked"]) == (["billing"], 1)
    assert other_team.trace_id in json.dumps(report) or report["breaks"] == []

    # A break joins two traces: both ends of the edge must be named, or its other half is never read.
    both = ("--service", "checkout", "--service", "inventory")
    code, out, _ = doctor(capsys, "--otlp-file", str(file), *both, "--json")
    assert code == 1 and [b["kind"] for b in json.loads(out)["breaks"]] == ["not_propagated"]
    code, _, _ = doctor(capsys, "--otlp-file", str(file), "--service", "inventory", "--json")
    assert code == 0, "one end alone: checkout's half (the CLIENT span without a child) is not in the window"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("garbage\n", "traces.jsonl line 1 is not OTLP JSON"),
        ("", "holds no trace that started in the last 1m"),
    ],
)
def test_a_file_that_cannot_be_judged_exits_2_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, said: str
) -> None:
    (tmp_path / "traces.jsonl").write_text(content)
    code, out, err = doctor(capsys, "--otlp-file", str(tmp_path / "traces.jsonl"))
    assert code == 2
    assert said in " ".join((out + err).split())
    assert "Traceback" not in err


def test_a_window_over_the_budget_exits_2_and_says_how_to_narrow_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = Window()
    for i in range(5):
        w.order(i * 1000)
    code, _, err = doctor(capsys, "--otlp-file", str(write(w, tmp_path / "t.jsonl")), "--max-spans", "10")
    assert code == 2
    assert "more than 10 spans, the memory budget" in " ".join(err.split()) and "--service" in err


def test_a_jaeger_that_refuses_exits_2_without_showing_the_header(capsys: pytest.CaptureFixture[str]) -> None:
    from json_server import JsonServer

    with JsonServer(lambda path, query: (401, {"error": "unauthorized"})) as refusing:
        code, out, err = doctor(capsys, "--jaeger", refusing.url, "--jaeger-header", "Authorization: Bearer s3cr3t")
    assert code == 2
    assert "refused the request (401)" in " ".join(err.split())
    assert "s3cr3t" not in out + err and "Traceback" not in err
