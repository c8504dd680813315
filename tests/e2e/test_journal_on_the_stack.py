"""The span journal on the stack (issue 28): a service that really dies still tells its story in Jaeger.

``fault-kill`` makes inventory die in the middle of a reservation (no handler
runs); Compose starts it again (``restart: unless-stopped``) on the same
volume, and its journal sends what the dead run owed: the order's trace in
Jaeger is one connected trace, inventory's SERVER span in it cut short. A
journal damaged on the volume (torn, garbage) never stops inventory's start.
The long ones, under load, are drills (tests/drills/test_journal_drills.py).

Every wait is on a condition, each bound from what the code or the stack
promises: checkout's deadline for its answer, Docker's restart delay and
inventory's health check for its return (tests.support.stack_restarts),
traceproof's defaults for a trace to arrive and to hold still.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from inventory.faults import KILL_SKU
from shoptrace.span_journal import CUT_SHORT, ERROR_TYPE
from tests.conftest import InventoryTimings
from tests.e2e.conftest import compose
from tests.support.load import CHECKOUT_URL
from tests.support.stack_restarts import messages_since, now_rfc3339, run_of, wait_back
from traceproof.defaults import QUIET_S, TIMEOUT_S
from traceproof.jaeger import JaegerClient
from traceproof.spans import Span
from traceproof.trace import Trace
from traceproof.traces import Traces
from traceproof.wait import settled

#: Good orders placed (and whole in Jaeger) before the kill: their spans must not come again from the journal.
ORDERS_BEFORE = 3
#: Where inventory's journal is on its volume: SPAN_JOURNAL_DIR in docker-compose.yml, slot 0 (one process).
JOURNAL = "/data/journal/inventory.0.journal"
#: A one-off container on inventory's volume (the service's own user, read-only root, volume writable) starts
#: Python and rewrites one file of at most the journal's budget (16 MB). Nothing promises how long that takes; this
#: bound only ends a broken run (a hung container) with a failure instead of a hang, and nothing races it.
ONE_OFF_S = 120.0


def place(sku: str) -> httpx.Response:
    return httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": sku}, timeout=10)


def whole(jaeger: JaegerClient, trace_id: str) -> list[Span]:
    """The trace once it has held still for traceproof's QUIET_S (every service's batch in), within its TIMEOUT_S."""
    return jaeger.wait_for(trace_id, settled(QUIET_S), timeout_s=TIMEOUT_S)


def span_ids(spans: list[Span]) -> list[str]:
    return sorted(s.span_id for s in spans)


def cut_short_arrived(trace: Trace) -> bool:
    return any(s.service == "inventory" and s.name == "POST /reservations" for s in trace.spans)


def test_fault_kill_is_a_503_at_once_and_after_inventorys_restart_one_connected_trace_with_the_span_cut_short(
    traces: Traces, jaeger: JaegerClient, timings: InventoryTimings
) -> None:
    # Orders before the kill, waited for whole in Jaeger: their batches were delivered, and recorded as delivered,
    # long before the kill (a batch under way at the kill, answered but not yet recorded, may be sent twice).
    earlier = {}
    for _ in range(ORDERS_BEFORE):
        response = place("item-123")
        assert response.status_code == 201, response.text
        earlier[response.json()["trace_id"]] = span_ids(whole(jaeger, response.json()["trace_id"]))
    before = run_of("inventory")[0]
    since = now_rfc3339()

    asked = time.monotonic()
    response = place(KILL_SKU)
    answered_s = time.monotonic() - asked
    assert response.status_code == 503 and response.json()["error"] == "inventory_unavailable", response.text
    # At once: the connection reset by inventory's death, not checkout's deadline run out (a 504 after it).
    assert answered_s < timings.inventory_timeout_s, answered_s
    wait_back("inventory", before)  # Docker's restart, then inventory's health check: their own bound

    # The dead run's spans are handed to the span buffer before inventory serves: they come within traceproof's
    # TIMEOUT_S of its being healthy (the traces fixture's default), as any batch does.
    trace = traces.get(response, until=cut_short_arrived)
    trace.assert_connected()
    killed = trace.one(service="inventory", kind="server", name="POST /reservations")
    call = killed.parent
    assert call is not None and call.service == "checkout" and call.kind == "client"
    assert killed.status == "error" and "the process died" in killed.span.status_message
    assert killed.attributes["error.type"] == ERROR_TYPE and killed.attributes[CUT_SHORT] is True
    sql = sorted(killed.children, key=lambda s: s.span.start_ns)
    assert [s.name for s in sql] == ["BEGIN", "SELECT"], [s.name for s in sql]  # the statements before the kill
    assert all(s.span.end_ns <= killed.span.end_ns for s in sql)
    assert any("cut short by its death" in m for m in messages_since("inventory", since))

    # Held still: every span the restart sends is in (a few, all handed over before it serves), none twice.
    final = whole(jaeger, trace.trace_id)
    assert len(span_ids(final)) == len(set(span_ids(final))), "a span of the killed order arrived twice"
    for trace_id, ids in earlier.items():
        assert span_ids(whole(jaeger, trace_id)) == ids, f"order {trace_id}: a span delivered before the kill came again"


#: Run in a one-off container on inventory's volume, with the service's image (shoptrace on its path).
DAMAGE = {
    # The file cut inside its last record: that record's head and one byte of its payload left, as a kill
    # in the middle of a copy (or a power loss) leaves one.
    "truncated mid-record": (
        "from pathlib import Path\n"
        "from shoptrace import journal_file as jf\n"
        f"path = Path({JOURNAL!r})\n"
        "data = path.read_bytes()\n"
        "at = data.rfind(jf.RECORD_MAGIC.to_bytes(4, 'little'), jf.HEADER_BYTES)\n"
        "assert at > 0, 'no record in the journal to cut'\n"
        "path.write_bytes(data[: at + jf.RECORD.size + 1])\n"
    ),
    # No journal at all: 256 KiB of random bytes where it was.
    "garbage": f"import random\nopen({JOURNAL!r}, 'wb').write(random.Random(28).randbytes(256 * 1024))\n",
}
SKIPPED = re.compile(r"skipped what could not be read of the previous run's: (\d+) bytes that were no record")


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_journal_on_inventorys_volume_never_stops_its_start_it_serves_and_says_once_what_it_skipped(
    damage: str,
) -> None:
    assert place("item-123").status_code == 201  # records in the journal
    compose("stop", "inventory")  # SIGTERM: the journal stays on the volume as the run left it
    try:
        before = run_of("inventory")[0]
        compose("run", "--rm", "--no-deps", "-T", "inventory", "python", "-c", DAMAGE[damage], timeout_s=ONE_OFF_S)
        since = now_rfc3339()
    finally:
        compose("start", "inventory")
    wait_back("inventory", before)  # its health check's bound: a start the journal stopped would never be healthy

    response = place("item-123")
    assert response.status_code == 201, response.text  # it serves, through checkout
    said = [m for m in messages_since("inventory", since) if SKIPPED.search(m)]
    assert len(said) == 1, said  # said, once
    match = SKIPPED.search(said[0])
    assert match is not None and int(match.group(1)) > 0, said[0]
    if damage == "garbage":
        assert "the whole file (not a span journal" in said[0], said[0]
