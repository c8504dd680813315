"""`make trace` on a real trace: the services run as processes, logs in files (as when run by hand).

The trace comes from what checkout and inventory really exported (served by
a stand-in of Jaeger's API over the test's sink), the log lines from the
files their stdout went to (``--logs``). tests/e2e/test_make_trace.py does the
same against the compose stack, the real Jaeger and ``docker compose logs``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from fake_jaeger import FakeJaeger
from tests.support.cli import run_module
from tests.support.processes import ServiceProcess
from tests.test_trace_story import place, trace_of
from traceproof.traces import Traces

BAR = re.compile(r"ERROR {3}( *)([█▏▎▍▌▋▊▉▐▕]+)")
#: The width of a span's bar in the waterfall (traceproof.waterfall.render_trace).
BAR_WIDTH = 32
LOG_ROW = re.compile(r"^(\d{4}-\d\d-\d\dT\S+)\s+(\S+)\s+(\S+)\s+(.*)$")


def show(trace_id: str, jaeger: FakeJaeger, *logs: ServiceProcess, wait: str = "5") -> tuple[int, str, str]:
    files = [str(s.stdout_path) for s in logs]
    result = run_module(
        "explore.trace_view", trace_id, "--jaeger", jaeger.url, "--wait", wait, *(["--logs", *files] if files else [])
    )
    return result.returncode, result.stdout, result.stderr


def line_index(lines: list[str], pattern: str) -> int:
    found = [i for i, line in enumerate(lines) if re.search(pattern, line)]
    assert len(found) == 1, f"{pattern!r} found on lines {found} of:\n" + "\n".join(lines)
    return found[0]


def test_a_crash_is_one_tree_with_the_error_where_it_happened_and_the_logs_of_both_services(
    checkout: ServiceProcess, inventory: ServiceProcess, traces: Traces, fake_jaeger: FakeJaeger
) -> None:
    place(checkout, "item-123")  # another request, whose log lines must not show
    response = place(checkout, "fault-crash")
    assert response.status_code == 502
    trace_id = trace_of(response)
    traces.get(trace_id, until=lambda t: len(t.find(kind="server")) == 2)

    status, out, err = show(trace_id, fake_jaeger, checkout, inventory)
    assert status == 0, err
    expected_logs = sorted((r for s in (checkout, inventory) for r in s.logs_of(trace_id)), key=lambda r: r["time"])
    assert_crash_story(out, trace_id, expected_logs)


def assert_crash_story(out: str, trace_id: str, expected_logs: list[dict[str, Any]]) -> None:
    """What `make trace` prints for a fault-crash order (also checked against the stack)."""
    lines = out.splitlines()

    # The header names the trace, its services and its errors.
    assert re.search(rf"trace {trace_id}\s+3 spans in checkout, inventory, .* ms, 3 in error", out), out
    # The tree: checkout's SERVER span, its CLIENT call under it, inventory's SERVER span under that.
    root = line_index(lines, r"^server POST /checkout\s+checkout\s+\+0\.0 ms\s+[\d.,]+ ms\s+ERROR")
    call = line_index(lines, r"^└── client GET\s+checkout\s+\+[\d.,]+ ms\s+[\d.,]+ ms\s+ERROR")
    crashed = line_index(lines, r"^    └── server GET /stock/\{sku\}\s+inventory\s+\+[\d.,]+ ms\s+[\d.,]+ ms\s+ERROR")
    assert root < call < crashed
    # Each row has its bar, drawn to scale: the root's from the start, the call's inside it, and
    # inventory's starting while the call waits. The trace ends with the root's span or inventory's
    # (a race: inventory ends its span after sending the 500, while checkout reads it and answers),
    # and whichever it is, its bar reaches the right edge.
    bars = [BAR.search(lines[i]) for i in (root, call, crashed)]
    assert all(bars), [lines[i] for i in (root, call, crashed)]
    offsets = [len(b.group(1)) for b in bars if b]
    lengths = [len(b.group(2)) for b in bars if b]
    ends = [offset + length for offset, length in zip(offsets, lengths, strict=True)]
    assert offsets[0] == 0
    assert ends[1] <= ends[0]
    assert offsets[1] <= offsets[2] <= ends[1] and lengths[2] > 0
    assert max(ends[0], ends[2]) == BAR_WIDTH
    # The error where it happened: the exception type and message on inventory's span.
    assert lines[crashed + 1].strip() == "✗ SimulatedCrash: inventory crashed while handling fault-crash (simulated)"
    assert lines[call + 1].strip() == "✗ HTTP 500"
    assert lines[root + 1].strip() == "✗ HTTP 502"

    # Below it, exactly the log lines of that trace, from both services, in time order.
    rows = [m.groups() for m in map(LOG_ROW.match, lines) if m]
    assert [(t, service) for t, service, _, _ in rows] == [(r["time"], r["service"]) for r in expected_logs]
    assert {service for _, service, _, _ in rows} == {"checkout", "inventory"}
    assert any(
        service == "inventory" and level == "error" and "unhandled error in GET /stock/fault-crash" in msg
        for _, service, level, msg in rows
    )
    # The traceback's last line is shown under inventory's error line.
    crash_line = next(i for i, line in enumerate(lines) if "unhandled error in GET /stock/fault-crash" in line)
    assert "SimulatedCrash: inventory crashed while handling fault-crash (simulated)" in lines[crash_line + 1]


def test_a_malformed_id_is_refused_with_what_an_id_looks_like(fake_jaeger: FakeJaeger) -> None:
    for bad in ("123", "not-a-trace-id-at-all-0123456789ab", "0" * 32):
        status, out, err = show(bad, fake_jaeger)
        assert status == 2, (bad, out, err)
        assert "is not a trace id: expected 32 hex digits" in err
        assert out == ""


def test_a_trace_that_is_not_there_says_so_after_waiting(fake_jaeger: FakeJaeger) -> None:
    status, out, err = show(secrets.token_hex(16), fake_jaeger, wait="0.5")
    assert status == 1
    assert "has no trace" in err and "(yet)" in err
    assert out == ""


def test_jaeger_not_up_is_said_plainly() -> None:
    from tests.support.processes import free_port

    result = run_module("explore.trace_view", secrets.token_hex(16), "--jaeger", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "Jaeger is not reachable at" in result.stderr and "make up" in result.stderr
    assert "Traceback" not in result.stderr


def test_uppercase_ids_are_accepted_as_jaeger_writes_them_lowercase(
    checkout: ServiceProcess, traces: Traces, fake_jaeger: FakeJaeger
) -> None:
    response = place(checkout, "sold-out")
    trace_id = trace_of(response)
    traces.get(trace_id, until=lambda t: len(t.find(kind="server")) == 3)
    status, out, err = show(trace_id.upper(), fake_jaeger, checkout)
    assert status == 0, err
    assert f"trace {trace_id}" in out
