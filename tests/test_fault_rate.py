"""INVENTORY_FAULT_RATE: random crashes are clean 502s, never spurious connection errors."""

from __future__ import annotations

from collections import Counter

import httpx

from tests.conftest import Spawn


def test_random_crashes_answer_502_and_keep_connections_usable(spawn: Spawn) -> None:
    inventory = spawn("inventory", INVENTORY_FAULT_RATE="0.5")
    checkout = spawn("checkout", inventory_url=inventory.url)
    with httpx.Client(base_url=checkout.url, timeout=10) as client:
        statuses = Counter(client.post("/checkout", json={"sku": "item-123"}).status_code for _ in range(60))
    # Had uvicorn seen the exceptions, it would have closed the keep-alive
    # connections under checkout's pool, and some calls would fail as 503.
    assert set(statuses) == {201, 502}, statuses
    assert statuses[502] >= 10 and statuses[201] >= 10, statuses
    # One crash, one traceback in inventory's log, one 502.
    crashes = [line for line in inventory.logs() if "exception" in line]
    assert len(crashes) == statuses[502]
