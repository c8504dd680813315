"""Stock is never oversold, and a failed checkout never keeps stock taken."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.conftest import Spawn
from tests.support.processes import ServiceProcess


def available(inventory: ServiceProcess, sku: str) -> int:
    return int(httpx.get(f"{inventory.url}/stock/{sku}").json()["available"])


def test_concurrent_checkouts_never_oversell(spawn: Spawn) -> None:
    inventory = spawn("inventory")
    # No deadline is in play: 200 orders at once queue up, and a late answer must not become a 504.
    checkout = spawn("checkout", inventory_url=inventory.url, INVENTORY_TIMEOUT_S="120")

    async def storm() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=checkout.url, timeout=180, limits=limits) as client:
            responses = await asyncio.gather(*(client.post("/checkout", json={"sku": "limited-edition"}) for _ in range(200)))
        return [r.status_code for r in responses]

    statuses = asyncio.run(storm())
    assert statuses.count(201) == 50
    assert statuses.count(409) == 150
    assert available(inventory, "limited-edition") == 0


def test_a_reservation_is_idempotent_and_can_be_released(inventory: ServiceProcess) -> None:
    before = available(inventory, "item-123")
    key = uuid.uuid4().hex
    first = httpx.post(f"{inventory.url}/reservations", json={"sku": "item-123", "quantity": 4}, headers={"Idempotency-Key": key})
    again = httpx.post(f"{inventory.url}/reservations", json={"sku": "item-123", "quantity": 4}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["reservation_id"] == again.json()["reservation_id"] == key
    assert available(inventory, "item-123") == before - 4

    released = httpx.delete(f"{inventory.url}/reservations/{key}")
    assert released.status_code == 200 and released.json()["quantity"] == 4
    assert available(inventory, "item-123") == before
    # Releasing twice gives nothing back twice; reserving a released key is refused.
    assert httpx.delete(f"{inventory.url}/reservations/{key}").status_code == 200
    refused = httpx.post(
        f"{inventory.url}/reservations", json={"sku": "item-123", "quantity": 4}, headers={"Idempotency-Key": key}
    )
    assert refused.status_code == 409 and refused.json()["error"] == "reservation_conflict"
    assert available(inventory, "item-123") == before


def test_a_reservation_released_before_it_arrives_is_refused(inventory: ServiceProcess) -> None:
    """The race a timeout leaves: checkout gave up and released while its reservation was still on its way."""
    key = uuid.uuid4().hex
    before = available(inventory, "limited-edition")
    gone = httpx.delete(f"{inventory.url}/reservations/{key}")
    assert gone.status_code == 404 and gone.json()["error"] == "unknown_reservation"
    late = httpx.post(
        f"{inventory.url}/reservations", json={"sku": "limited-edition", "quantity": 1}, headers={"Idempotency-Key": key}
    )
    assert late.status_code == 409
    assert available(inventory, "limited-edition") == before


def test_checkouts_that_time_out_leave_no_stock_taken(spawn: Spawn) -> None:
    """Deadlines so short that calls fail at every step; whatever failed must give its stock back."""
    inventory = spawn("inventory")
    start = available(inventory, "limited-edition")
    outcomes: dict[int, int] = {}
    sold = 0
    for timeout in ("0.002", "0.004", "0.008"):
        checkout = spawn("checkout", inventory_url=inventory.url, INVENTORY_TIMEOUT_S=timeout)
        for _ in range(15):
            response = httpx.post(f"{checkout.url}/checkout", json={"sku": "limited-edition"}, timeout=10)
            outcomes[response.status_code] = outcomes.get(response.status_code, 0) + 1
            sold += response.status_code == 201
        checkout.terminate()  # waits for the releases it still had running
    assert outcomes.get(504), outcomes  # two HTTP calls between Python services never fit in 2 ms
    # Nothing to wait for: each checkout's SIGTERM waited for its releases to be answered, and
    # inventory serializes reservations and releases, so a reservation still on its way when its
    # release came is refused whenever it arrives. The stock is final now.
    assert available(inventory, "limited-edition") == start - sold, outcomes
