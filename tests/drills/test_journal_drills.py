"""Kill a service of the stack under steady load (``docker kill``, SIGKILL); its span journal keeps every span (issue 28).

A service killed loses what it held in memory: the spans ended and not yet
exported (up to the batch delay; the whole span buffer while the Collector is
away). Its journal, on its volume, holds them; the next run sends them. What
these drills prove on the stack, and record in bench/results/drills.json:

* every order answered before the kill has its whole trace in Jaeger once the
  service is back (for inventory, and once for checkout);
* with the Collector down first, what inventory held for it at the kill
  arrives once both are back.

``docker kill`` is a manual stop to Docker (moby's ``daemon/kill.go`` marks
it so), so its restart policy does not start the container again: each drill
starts it, as an operator or an orchestrator would (``fault-kill``, a death
from inside, is restarted by Docker itself: tests/e2e/test_journal_on_the_stack.py).
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from checkout.config import CheckoutSettings
from explore.load import Result
from tests.drills.test_drills import RESUMED_WITHIN_S, WHOLE_WITHIN_S, missing_spans, spans_per_order
from tests.e2e.conftest import compose
from tests.support.load import Load
from tests.support.stack_restarts import back_within_s, kill, messages_since, now_rfc3339, wait_back
from traceproof.jaeger import JaegerClient

#: Load before the kill, so each service has spans of many orders in its batches, and after it for the restart.
KILL_AT_S = 15
#: Work after the reply (checkout's confirmation, a reservation's release) ends within checkout's background
#: budget (its setting's default, docker-compose.yml sets none): an order answered longer ago than this before
#: the kill had ended every span by then. One answered later may have had work after its reply cut by the kill:
#: a span started is sent cut short (so counted present), one not started yet never exists.
AFTER_REPLY_S = CheckoutSettings(inventory_url="", inventory_timeout_s=2.0).background_timeout_s
#: The journal's start-up log line: how many spans the dead run owed.
OWED = re.compile(r"left (\d+) spans ended but not delivered and (\d+) cut short")


def answered_before(results: list[Result], moment_s: float) -> list[Result]:
    """The orders answered (201) before ``moment_s`` on the load's clock."""
    return [r for r in results if r.outcome == 201 and r.started_s + r.latency_s < moment_s]


def owed(service: str, since: str) -> tuple[int, int]:
    """What ``service``'s journal said at its last start since ``since``: (spans ended not delivered, cut short)."""
    found = [m for m in messages_since(service, since) if OWED.search(m)]
    if not found:
        return (0, 0)  # nothing owed: the journal says nothing
    match = OWED.search(found[-1])
    assert match is not None
    return (int(match.group(1)), int(match.group(2)))


@pytest.mark.parametrize("service", ["inventory", "checkout"])
def test_a_docker_kill_under_load_loses_no_span_of_an_order_answered_before_it(
    service: str, jaeger: JaegerClient, record: dict[str, Any]
) -> None:
    expected = spans_per_order(jaeger)
    since = now_rfc3339()
    # Long enough to hold the kill, the service's return (at most back_within_s: Docker's restart and its health
    # check) and a few seconds of orders served again.
    with Load(duration_s=KILL_AT_S + back_within_s(service) + 10) as load:
        load.at(KILL_AT_S)
        killed_at = load.now()
        before = kill(service)
        compose("start", service)  # a docker kill is a manual stop: Docker does not start it again (module doc)
        back_s = wait_back(service, before)
    answered = answered_before(load.results, killed_at)
    settled_before = answered_before(load.results, killed_at - AFTER_REPLY_S)
    assert settled_before, "no order answered before the kill"
    # Every span of an order whose work had all ended at the kill: in Jaeger, whatever the kill took from memory.
    # WHOLE_WITHIN_S: the drills' bound for a trace to be whole once the part of the stack that was away is back.
    lost = missing_spans(jaeger, settled_before, expected, within_s=WHOLE_WITHIN_S)
    assert lost == 0, f"{lost} spans of {len(settled_before)} orders answered before the kill never reached Jaeger"
    # The orders answered in the last AFTER_REPLY_S before it: what they lack is work after the reply that the
    # kill stopped before it began (said, not asserted: its reason is the kill, not the journal).
    late = answered_before(load.results, killed_at)
    late = [r for r in late if r.started_s + r.latency_s >= killed_at - AFTER_REPLY_S]
    cut_after_reply = missing_spans(jaeger, late, expected, within_s=0)
    ended_owed, cut_short = owed(service, since)
    record[f"docker_kill_{service}_under_load"] = {
        "orders": len(load.results),
        "answered_before_kill": len(answered),
        "spans_lost": lost,
        "spans_missing_of_orders_answered_in_the_last_s_before_kill": {
            "seconds": AFTER_REPLY_S,
            "spans": cut_after_reply,
            "reason": "work after the reply not yet begun at the kill",
        },
        "spans_sent_from_the_journal": {"ended_not_delivered": ended_owed, "cut_short": cut_short},
        "back_healthy_after_s": round(back_s, 1),
    }


def test_collector_down_then_inventory_killed_the_spans_it_held_arrive_once_both_are_back(
    jaeger: JaegerClient, record: dict[str, Any]
) -> None:
    expected = spans_per_order(jaeger)
    since = now_rfc3339()
    outage_at, kill_at = 10, 30  # 20 s of spans held for the Collector (inventory: about 160 a second) at the kill
    with Load(duration_s=kill_at + back_within_s("inventory") + 20) as load:
        load.at(outage_at)
        compose("stop", "otel-collector")
        load.at(kill_at)
        killed_at = load.now()
        before = kill("inventory")
        compose("start", "inventory")
        wait_back("inventory", before)
        collector_back = time.monotonic()
        compose("start", "otel-collector")
    # The orders answered while the Collector was away and before the kill: inventory held their spans, in memory
    # and in its journal, when it died. Its next run sends them once the Collector answers: RESUMED_WITHIN_S after
    # the Collector's start sending has resumed, then WHOLE_WITHIN_S for the traces to be whole (the drills' bounds).
    held = [r for r in answered_before(load.results, killed_at) if r.started_s >= outage_at]
    assert held, "no order answered between the Collector's stop and the kill"
    resumed_s = max(0.0, RESUMED_WITHIN_S - (time.monotonic() - collector_back))
    lost = missing_spans(jaeger, held, expected, within_s=resumed_s + WHOLE_WITHIN_S)
    ended_owed, cut_short = owed("inventory", since)
    assert ended_owed > 0, "inventory's journal owed nothing at its restart: it held no span for the Collector?"
    assert lost == 0, f"{lost} spans of {len(held)} orders held for the Collector at the kill never reached Jaeger"
    record["collector_down_then_inventory_killed"] = {
        "orders_held_for_the_collector_at_kill": len(held),
        "spans_sent_from_the_journal": {"ended_not_delivered": ended_owed, "cut_short": cut_short},
        "spans_lost": lost,
    }
