"""``fault-kill``: inventory really dies (SIGKILL mid-reservation), and its side of the trace still arrives, from its journal.

inventory and checkout run as processes exporting to the tests' sink, each
with a span journal of its own (tests/conftest.py). The order that kills
inventory is answered 503 before checkout's deadline; inventory is then
started again on the same port, database and journal, as Compose's
``restart: unless-stopped`` would, and the order's trace is one connected
trace: inventory's SERVER span in error, marked cut short, under checkout's
CLIENT span, with the SQL spans that ran before the kill, no span twice.
"""

from __future__ import annotations

import signal
import time

from inventory.faults import KILL_SKU
from shoptrace.span_journal import CUT_SHORT, ERROR_TYPE
from tests.conftest import TEST_TIMINGS, Spawn
from tests.support.otlp_sink import SpanStore
from tests.test_trace_story import place, trace_of
from traceproof import Traces

#: A killed process is gone as soon as the signal is delivered; this only bounds a broken test.
EXIT_S = 30.0
#: A batch delay no test outlasts.
NEVER_MS = 3_600_000


def test_a_killed_inventorys_span_arrives_after_its_restart_cut_short_under_checkouts_call(
    spawn: Spawn, traces: Traces, span_store: SpanStore
) -> None:
    # No batch of inventory's is exported before the kill: a batch under way at a kill may arrive twice (its
    # answer and its record cannot be one step), so "no span twice" holds without timing luck only so.
    inventory = spawn("inventory", OTEL_BSP_SCHEDULE_DELAY=str(NEVER_MS))
    checkout = spawn("checkout", inventory_url=inventory.url)

    asked = time.monotonic()
    response = place(checkout, KILL_SKU)
    answered_s = time.monotonic() - asked
    assert response.status_code == 503 and response.json()["error"] == "inventory_unavailable", response.text
    assert answered_s < TEST_TIMINGS.inventory_timeout_s  # at once: a reset, not checkout's deadline
    assert inventory.proc is not None and inventory.proc.wait(EXIT_S) == -signal.SIGKILL
    trace_id = trace_of(response)
    killed_pid = inventory.pid

    inventory.env["OTEL_BSP_SCHEDULE_DELAY"] = "50"
    inventory.start()  # the restart: the journal's spans are handed to the span buffer before it serves

    def reservation_arrived(trace: object) -> bool:
        return any(s.name == "POST /reservations" for s in span_store.all() if s.trace_id == trace_id)

    trace = traces.get(response, until=reservation_arrived)
    trace.assert_connected()
    killed = trace.one(service="inventory", kind="server", name="POST /reservations")
    call = killed.parent
    assert call is not None and call.service == "checkout" and call.kind == "client"
    assert killed.status == "error" and "the process died" in killed.span.status_message
    assert killed.attributes["error.type"] == ERROR_TYPE and killed.attributes[CUT_SHORT] is True
    assert killed.attributes["process.pid"] == killed_pid
    sql = sorted(killed.children, key=lambda s: s.span.start_ns)
    assert [s.name for s in sql] == ["BEGIN", "SELECT"], [s.name for s in sql]  # the statements before the kill
    assert all(s.span.end_ns <= killed.span.end_ns for s in sql)
    assert "cut short by its death" in inventory.stderr_text() + "".join(map(str, inventory.stdout_lines()))

    ids = [s.span_id for s in span_store.all() if s.trace_id == trace_id]
    assert len(ids) == len(set(ids)), "a span arrived twice"
