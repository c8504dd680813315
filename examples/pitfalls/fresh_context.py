"""Pitfall 1: a fresh context in the middle of a request, Python's ``context.Background()``.

A function that takes the context to work in, like a Go function taking
``ctx``, is handed a new, empty ``Context()`` instead of the request's. The
call it makes has no parent: its CLIENT span starts a new trace, and the
downstream service's span lands there too, an orphan nobody will find from
the request. Pass the request's context (``get_current()``), or better, let
the call use the current one.

    python -m examples.pitfalls.fresh_context
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from opentelemetry.context import Context, attach, detach, get_current

from examples.pitfalls.downstream import inventory_client
from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import Outcome, Story, checkout_request, main, run_story

TITLE = "1. A fresh context in the middle of a request"
LESSON = "fetch_stock(client, sku, Context()) is Go's fetchStock(context.Background(), sku): the call is an orphan trace."


async def fetch_stock(client: httpx.AsyncClient, sku: str, ctx: Context) -> dict[str, Any]:
    """Call inventory in the context given, as a Go function uses the ``ctx`` it is passed."""
    token = attach(ctx)
    try:
        return (await client.get(f"/stock/{sku}")).json()
    finally:
        detach(token)


def _story(context_for_the_call: Callable[[], Context]) -> Story:
    async def story(recorder: Recorder) -> None:
        async with inventory_client(recorder) as client:
            with checkout_request(recorder):
                await fetch_stock(client, "item-123", context_for_the_call())

    return story


def broken() -> Outcome:
    return run_story("broken: Context()", _story(Context))


def fixed() -> Outcome:
    return run_story("fixed: get_current()", _story(get_current))


def pairs() -> list[tuple[Outcome, Outcome]]:
    return [(broken(), fixed())]


if __name__ == "__main__":
    main(TITLE, LESSON, *pairs())
