"""One host for everything (a laptop, Docker's gateway): checkout's calls and a person's direct calls come from one address.

checkout here calls inventory with a bare client (no CLIENT span, no
``traceparent``) on every order, and a person or a fuzzer calls inventory
directly from the same address, now and then. The direct calls that come
while checkout is idle mark the route as "called from outside too"; the
doctor must still name checkout's breaks when the window tells them apart (by
user agent, or because far more roots land inside checkout's requests than
chance would put there), and keep the doubts for what it cannot.

Where direct calls are placed at random, the draws are seeded.
"""

from __future__ import annotations

import random

from builder import CHECKOUT_ADDRESS, Window
from traceproof.doctor import BreakKind, diagnose

HTTPX, CURL = "python-httpx/0.28.1", "curl/8.5.0"


def shop(broken_orders: int, direct_calls: int, *, order_agent: str | None, direct_agent: str | None, seed: int = 7) -> Window:
    """A connected order to teach the address book, ``broken_orders`` orders a second apart (100 ms each, 10 % busy),
    and ``direct_calls`` direct GET /stock/1 calls from the same address at seeded random moments."""
    w = Window()
    w.order(0)  # connected: checkout calls from CHECKOUT_ADDRESS
    for i in range(broken_orders):
        served = w.request("checkout", "POST", "/checkout", 1000 * (i + 1), 1000 * (i + 1) + 100)
        w.request(
            "inventory", "GET", "/stock/1", 1000 * (i + 1) + 12, 1000 * (i + 1) + 28, CHECKOUT_ADDRESS, user_agent=order_agent
        )
        assert served.kind == "server"
    draws = random.Random(seed)
    span_ms = 1000 * (broken_orders + 1)
    for _ in range(direct_calls):
        at = draws.uniform(200, span_ms)
        w.request("inventory", "GET", "/stock/1", at, at + 3, CHECKOUT_ADDRESS, user_agent=direct_agent)
    return w


def no_client_spans(w: Window) -> int:
    return sum(b.count for b in diagnose(w.traces()).breaks if b.kind is BreakKind.NO_CLIENT_SPAN)


def test_a_user_agent_that_never_calls_from_outside_tells_the_breaks_apart() -> None:
    w = shop(40, 30, order_agent=HTTPX, direct_agent=CURL)
    d = diagnose(w.traces())
    (found,) = d.breaks
    assert (found.kind, found.service, found.peer) == (BreakKind.NO_CLIENT_SPAN, "checkout", "inventory")
    assert found.count == 40
    assert "python-httpx/0.28.1 never called it while checkout served nothing" in found.breaks[0].evidence
    assert all("curl" not in o.evidence for o in found.breaks)


def test_the_same_client_everywhere_is_told_apart_by_how_often_it_lands_inside_requests() -> None:
    """40 of ~43 roots inside requests that take 10 % of the time: chance would give about 4."""
    w = shop(40, 30, order_agent=None, direct_agent=None)
    d = diagnose(w.traces())
    (found,) = d.breaks
    assert found.kind is BreakKind.NO_CLIENT_SPAN and found.service == "checkout"
    assert found.count >= 40  # the 40 breaks; a direct call that fell inside a request is counted with them
    assert "calls from outside would do that with a chance of" in found.breaks[0].evidence


def test_too_few_to_tell_stay_doubts() -> None:
    """2 broken orders among 30 direct calls: inside requests 10 % of the time, that is no evidence."""
    w = shop(2, 30, order_agent=None, direct_agent=None)
    d = diagnose(w.traces())
    assert d.breaks == []
    assert len(d.doubts) >= 2 and all("something else at" in doubt.why for doubt in d.doubts)


def test_direct_calls_alone_never_make_a_break_whatever_falls_inside_requests() -> None:
    """Checkout's requests connect; 300 direct calls land at random, about 30 of them inside its requests."""
    for seed in range(20):
        w = Window()
        for i in range(40):
            w.order(1000 * i)
        draws = random.Random(seed)
        for _ in range(300):
            at = draws.uniform(0, 40_000)
            w.request("inventory", "GET", "/stock/1", at, at + 3, CHECKOUT_ADDRESS)
        assert diagnose(w.traces()).breaks == [], seed
