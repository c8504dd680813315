"""The pytest plugin as its users meet it: test files run by pytester against a fake Jaeger, passing and failing.

Each test writes a test file a user might write, runs pytest on it in
process (the plugin comes from its ``pytest11`` entry point, as it does for a
user), and checks the outcome and, for failures, what pytest printed: the
waterfall, the marked spans, the candidates, what arrived before a timeout,
the doctor's finding, the log lines.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from builder import Window
from fake_jaeger import FakeJaeger, otlp_json
from traceproof.spans import Event, Span

pytest_plugins = ["pytester"]


@dataclass
class Stack:
    """The fake Jaeger, and the ids of the traces it holds."""

    jaeger: FakeJaeger
    #: A crash: checkout's request, its call, inventory's SERVER span in error with a SimulatedCrash.
    crash: str
    #: checkout's call to inventory that did not carry its context: inventory's span is another trace.
    split: str
    unsplit_piece: str


def crashed(span: Span) -> Span:
    exception = Event("exception", {"exception.type": "inventory.faults.SimulatedCrash", "exception.message": "boom"})
    return replace(span, status="error", status_message="SimulatedCrash: boom", events=[exception])


@pytest.fixture
def stack() -> Iterator[Stack]:
    w = Window()
    w.order(0)  # connected: teaches the doctor where checkout calls from
    order = w.order(200)
    (served,) = [s for s in w.spans if s.trace_id == order.trace_id and s.service == "inventory"]
    w.spans[w.spans.index(served)] = crashed(served)
    split = w.order(400, stock_call="not_propagated")
    (piece,) = [s for s in w.spans if s.service == "inventory" and s.parent_id is None]
    with FakeJaeger(w.spans) as jaeger:
        yield Stack(jaeger, order.trace_id, split.trace_id, piece.trace_id)


class LateSpanJaeger(FakeJaeger):
    """The fake Jaeger holding ``late`` back until its trace has been read once: a batch that reaches Jaeger late.

    The span is added while the first read is answered (under the fake's lock), so it is
    there for every read after the first, and for none before.
    """

    def __init__(self, spans: list[Span], late: Span) -> None:
        super().__init__(spans)
        self.late = late
        self.reads = 0

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        answered = super().answer(path, query)
        if path == f"/api/v3/traces/{self.late.trace_id}":
            self.reads += 1
            if self.reads == 1:
                self.spans.append(self.late)
        return answered


def run(pytester: pytest.Pytester, stack: Stack, body: str, *args: str) -> pytest.RunResult:
    """Run one test file whose tests see ``CRASH``, ``SPLIT`` and ``PIECE`` (trace ids), against the fake Jaeger."""
    header = f"CRASH = {stack.crash!r}\nSPLIT = {stack.split!r}\nPIECE = {stack.unsplit_piece!r}\n\n"
    pytester.makepyfile(test_user=header + textwrap.dedent(body))
    return pytester.runpytest("--jaeger", stack.jaeger.url, "-p", "no:cacheprovider", *args)


def test_a_trace_read_by_id_or_response_with_its_spans_selectors_and_assertions(pytester: pytest.Pytester, stack: Stack) -> None:
    result = run(
        pytester,
        stack,
        """
        import httpx
        import requests

        def test_by_id(traces):
            trace = traces.get(CRASH, spans=3)
            trace.assert_connected()
            assert trace.root.name == "POST /checkout" and trace.root.kind == "server"
            crashed = trace.one(service="inventory", kind="server", status="error")
            crashed.assert_error()
            crashed.assert_error("SimulatedCrash")
            crashed.assert_error("inventory.faults.SimulatedCrash")
            assert crashed.parent.kind == "client" and crashed.parent.parent is trace.root
            assert trace.root.children == [crashed.parent]
            assert [s.kind for s in trace.find(service="checkout")] == ["server", "client"]
            assert trace.find(attributes={"url.path": "/stock/1"}) == [crashed]
            assert trace.find(status="ok") == []
            assert crashed.duration.total_seconds() == 0.016

        def test_by_response(traces):
            response = httpx.Response(201, headers={"traceresponse": f"00-{CRASH}-00f067aa0ba902b7-01"})
            assert traces.get(response, until=lambda t: len(t.spans) == 3).trace_id == CRASH

        def test_by_a_requests_response(traces):
            response = requests.Response()
            response.status_code, response.headers["traceresponse"] = 201, f"00-{CRASH}-00f067aa0ba902b7-01"
            assert traces.get(response, spans=3).trace_id == CRASH
        """,
    )
    result.assert_outcomes(passed=3)


#: A test file that fails, how many of its tests fail, and the lines pytest must print ({crash}, {split},
#: {piece}: the stack's trace ids; {url}: the fake Jaeger's).
FAILURES = {
    "one that matches nothing lists the nearest spans and draws the trace with them marked": (
        """
        def test_it(traces):
            traces.get(CRASH, spans=3).one(service="inventory", kind="client")
        """,
        1,
        [
            "*no span matches service='inventory', kind='client'; the nearest:",
            "*  - <client span 'GET' of checkout, unset>",
            "*  - <server span 'GET /stock/1' of inventory, error>",
            "*(◀ marks the spans in question)",
            "*trace {crash}  3 spans in checkout, inventory, * ms, 1 in error",
            "*{url}/trace/{crash}",
            "*server POST /checkout*checkout*",
            "*client GET ◀*checkout*",
            "*server GET /stock/1 ◀*inventory*ERROR*",
            "*✗ SimulatedCrash: boom*",
        ],
    ),
    "one that matches several lists them": (
        """
        def test_it(traces):
            traces.get(CRASH, spans=3).one(service="checkout")
        """,
        1,
        ["*2 spans match service='checkout', not one:", "*  - <server span 'POST /checkout'*", "*  - <client span 'GET'*"],
    ),
    "a trace that never gets its spans fails with what arrived": (
        """
        def test_it(traces):
            traces.get(CRASH, spans=5, timeout_s=0.5)
        """,
        1,
        ["*trace {crash} did not reach 5 spans within 0.5 s: it has 3 spans*", "*server GET /stock/1*inventory*ERROR*"],
    ),
    "a timeout says what the doctor finds when the missing span went to another trace": (
        """
        def test_it(traces):
            traces.get(SPLIT, spans=3, timeout_s=0.5)
        """,
        1,
        [
            "*trace {split} did not reach 3 spans within 0.5 s: it has 2 spans",
            "*the doctor finds not_propagated at checkout → inventory (the other piece: trace {piece}):*",
            "*fix:*",
        ],
    ),
    "assert_connected fails on a split trace with the doctor's cause and fix": (
        """
        def test_split(traces):
            traces.get(SPLIT, spans=2).assert_connected()

        def test_the_piece_that_broke_off(traces):
            traces.get(PIECE, spans=1).assert_connected()
        """,
        2,
        [
            "*trace {split} is not one connected trace:",
            "*the doctor finds not_propagated at checkout → inventory (the other piece: trace {piece}):*",
            "*cause:*",
            "*fix:*",
            "*trace {piece} is not one connected trace:",
            "*the doctor finds not_propagated at checkout → inventory (the other piece: trace {split}):*",
        ],
    ),
    "assert_error names what was recorded": (
        """
        def test_wrong_type(traces):
            traces.get(CRASH, spans=3).one(service="inventory").assert_error(TimeoutError)

        def test_not_in_error(traces):
            traces.get(CRASH, spans=3).root.assert_error()
        """,
        2,
        [
            "*<server span 'GET /stock/1' of inventory, error> recorded inventory.faults.SimulatedCrash, not TimeoutError",
            "*<server span 'POST /checkout' of checkout, unset> is not in error: its status is unset",
        ],
    ),
}


@pytest.mark.parametrize(("body", "failed", "lines"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failure_says_what_was_expected_and_shows_the_trace(
    pytester: pytest.Pytester, stack: Stack, body: str, failed: int, lines: list[str]
) -> None:
    result = run(pytester, stack, body)
    result.assert_outcomes(failed=failed)
    ids = {"crash": stack.crash, "split": stack.split, "piece": stack.unsplit_piece, "url": stack.jaeger.url}
    result.stdout.fnmatch_lines([line.format(**ids) for line in lines])


def test_assert_connected_fails_on_a_span_whose_parent_never_came(pytester: pytest.Pytester) -> None:
    w = Window()
    order = w.order(0)
    (client,) = [s for s in w.spans if s.kind == "client"]
    w.spans.remove(client)
    with FakeJaeger(w.spans) as jaeger:
        pytester.makepyfile(
            test_user=f"""
            def test_it(traces):
                traces.get({order.trace_id!r}, spans=2).assert_connected()
            """
        )
        result = pytester.runpytest("--jaeger", jaeger.url, "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 span names a parent the trace does not hold (lost on the way, or still on it): "
            "<server span 'GET /stock/1' of inventory*",
            "*server GET /stock/1 (parent missing) ◀*",
        ]
    )


def test_failures_show_the_log_lines_of_the_trace_from_the_configured_files(pytester: pytest.Pytester, stack: Stack) -> None:
    logs = pytester.path / "services.log"
    other = "0" * 31 + "1"
    records = [
        {"time": "10:00:00.1", "level": "error", "service": "inventory", "message": "unhandled error", "trace_id": stack.crash},
        {"time": "10:00:00.2", "level": "info", "service": "checkout", "message": "someone else's", "trace_id": other},
    ]
    logs.write_text("not json\n" + "\n".join(json.dumps(r) for r in records) + "\n")
    pytester.makeini("[pytest]\ntrace_log_files = services.log\n")
    result = run(
        pytester,
        stack,
        """
        def test_it(traces):
            traces.get(CRASH, spans=3).one(name="nothing like it")
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*log lines of trace {stack.crash}, in time order (from *", "*inventory*error*unhandled error*"]
    )
    result.stdout.no_fnmatch_line("*someone else's*")


def test_what_the_plugin_cannot_read_it_says_how_to_mend(pytester: pytest.Pytester, stack: Stack) -> None:
    result = run(
        pytester,
        stack,
        """
        import httpx
        import pytest

        def test_unknown_trace(traces):
            traces.get("4bf92f3577b34da6a3ce929d0e0e4736", timeout_s=0.3)

        def test_response_without_the_header(traces):
            traces.get(httpx.Response(201))

        def test_a_kind_in_capitals(traces):
            with pytest.raises(ValueError, match="kind='SERVER': expected one of server, client"):
                traces.get(CRASH, spans=3).find(kind="SERVER")
        """,
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            f"*Jaeger at {stack.jaeger.url} holds no span of trace 4bf92f3577b34da6a3ce929d0e0e4736 after 0.3 s*",
            "*the response (HTTP 201) carries no traceresponse header: pass the trace id instead*",
        ]
    )


def test_with_nothing_declared_a_trace_is_taken_once_it_holds_still(pytester: pytest.Pytester) -> None:
    """inventory's span reaches Jaeger only after the first read: the quiet wait must outlast it, not take the first read."""
    w = Window()
    order = w.order(0)
    (late,) = [s for s in w.spans if s.service == "inventory"]
    w.spans.remove(late)
    pytester.makeini("[pytest]\ntrace_quiet = 0.3\n")
    with LateSpanJaeger(w.spans, late) as jaeger:
        pytester.makepyfile(
            test_user=f"""
            import time

            def test_it(traces, pytestconfig):
                started = time.monotonic()
                trace = traces.get({order.trace_id!r})
                # The first read had 2 spans; the third came with the next, and the trace then held still for trace_quiet.
                assert len(trace.spans) == 3
                assert time.monotonic() - started >= float(pytestconfig.getini("trace_quiet"))
            """
        )
        result = pytester.runpytest("--jaeger", jaeger.url, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_the_collectors_file_is_read_with_otlp_file_and_a_split_is_shown_from_it(pytester: pytest.Pytester, stack: Stack) -> None:
    """The same assertions, the same failure output, from the Collector's file exporter output instead of Jaeger."""
    lines = [json.dumps(otlp_json([span])["result"]) for span in stack.jaeger.spans]
    (pytester.path / "collector").mkdir()
    (pytester.path / "collector" / "traces.jsonl").write_text("\n".join(lines) + "\n")
    header = f"CRASH = {stack.crash!r}\nSPLIT = {stack.split!r}\n\n"
    body = """
        def test_crash(traces):
            traces.get(CRASH, spans=3).assert_connected()

        def test_split(traces):
            traces.get(SPLIT, spans=3, timeout_s=0.5).assert_connected()
        """
    pytester.makepyfile(test_user=header + textwrap.dedent(body))
    result = pytester.runpytest("--otlp-file", str(pytester.path / "collector"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*did not reach 3 spans*it has 2 spans", "*the doctor finds not_propagated at checkout*"])


def test_a_source_that_refuses_fails_the_test_with_its_sentence(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_it(traces):\n    traces.get('0af7651916cd43dd8448eb211c80319c')\n")
    result = pytester.runpytest("--otlp-file", str(pytester.path / "nowhere"), "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * traceproof: *nowhere is neither a file nor a folder*"])
    assert "Traceback" not in result.stdout.str() and "sources.py" not in result.stdout.str()
