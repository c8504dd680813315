"""The doctor (``make doctor``) against the real stack: real load, real calls from outside, no break where none is.

The window is given by its times (``--since``/``--until``), so it holds this
test's traffic and nothing of the tests before it (the pitfalls, exported
to the stack, break their traces on purpose).
"""

from __future__ import annotations

import json
import time

import httpx

from explore.load import DEFAULT_MIX, parse_mix
from tests.e2e.conftest import INVENTORY_URL
from tests.support.doctor import doctor
from tests.support.load import RATE, Load
from traceproof.jaeger import JaegerClient, has_spans

#: 100 s of the walkthrough's mix at 20/s, 2,000 orders: crashes, timeouts (each a call
#: cancelled in inventory), sold-out, and every good order's confirmation after its reply.
LOAD_S = 100


def test_a_clean_load_and_calls_to_inventory_from_outside_show_no_break(jaeger: JaegerClient) -> None:
    since = time.time_ns()
    direct: list[str] = []
    with Load(LOAD_S, parse_mix(DEFAULT_MIX), seed=5) as load:
        # A person calling inventory directly, from the host, while it serves checkout's calls:
        # a root SERVER span in inventory, an entry point, not a break.
        for offset in range(2, LOAD_S, 2):
            load.at(offset)
            response = httpx.get(f"{INVENTORY_URL}/stock/item-123", timeout=10)
            assert response.status_code == 200
            direct.append(response.headers["traceresponse"].split("-")[1])
    # Every trace is in Jaeger before the doctor reads the window (the doctor itself waits
    # for parents still on their way, and would call them lost_parent if they never came).
    for trace_id in [r.trace_id for r in load.results if r.trace_id] + direct:
        jaeger.wait_for(trace_id, has_spans(1))
    until = time.time_ns()

    status, report = doctor(since, until)

    assert report["breaks"] == [], json.dumps(report["breaks"], indent=1)[:3000]
    assert status == 0
    assert len(load.results) == LOAD_S * RATE
    assert report["traces_checked"] >= len(load.results) + len(direct)
    edge = next(e for e in report["edges"] if (e["caller"], e["callee"]) == ("checkout", "inventory"))
    assert edge["broken"] == 0 and edge["connected"] == edge["traces_checked"] > 0
    outside = sum(e["count"] for e in report["entry_points"] if e["service"] == "inventory")
    assert outside == len(direct), report["entry_points"]
