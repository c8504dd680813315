"""checkout's typed client for inventory: inventory's API as methods, its answers as checkout's errors.

The wire (one instrumented client, the request's deadline, transport
failures as 502/503/504) is shoptrace.upstream's; this module adds what
inventory's answers mean to checkout:

==========================================  ===========================
inventory answered 404 / 409 with its code  UnknownSku / OutOfStock, answered as checkout's own
inventory answered 5xx or another 4xx       InventoryFailed (502)
connection refused, reset, closed early     InventoryUnavailable (503)
the deadline passed                         InventoryTimeout (504)
==========================================  ===========================
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from checkout.errors import InventoryFailed, InventoryTimeout, InventoryUnavailable
from inventory.contract import IDEMPOTENCY_KEY_HEADER, Reservation, ReservationRequest, Stock
from inventory.errors import OutOfStock, UnknownSku
from shoptrace.errors import ApiError
from shoptrace.upstream import Deadline, ErrorBody, UpstreamClient

#: inventory's errors that checkout answers as its own, by status and code.
ANSWERED_AS_OUR_OWN: dict[tuple[int, str], type[ApiError]] = {
    (UnknownSku.status, UnknownSku.code): UnknownSku,
    (OutOfStock.status, OutOfStock.code): OutOfStock,
}


class InventoryClient(UpstreamClient):
    """inventory's API as typed methods. Open it once per process, in the app's lifespan."""

    name = "inventory"
    failed = InventoryFailed
    unavailable = InventoryUnavailable
    timeout = InventoryTimeout

    async def stock(self, sku: str, deadline: Deadline) -> Stock:
        response = await self._call("GET", f"/stock/{quote(sku, safe='')}", deadline)
        return self.parse(Stock, response)

    async def reserve(self, sku: str, quantity: int, reservation_id: str, deadline: Deadline) -> Reservation:
        body = ReservationRequest(sku=sku, quantity=quantity).model_dump()
        response = await self._call(
            "POST", "/reservations", deadline, json=body, headers={IDEMPOTENCY_KEY_HEADER: reservation_id}
        )
        return self.parse(Reservation, response)

    async def release(self, reservation_id: str, deadline: Deadline) -> Reservation | None:
        """Give a reservation back; None if inventory never made it (it now never will)."""
        path = f"/reservations/{quote(reservation_id, safe='')}"
        response = await self.send("DELETE", path, deadline)
        if response.status_code == 404:
            return None
        return self.parse(Reservation, self._checked("DELETE", path, response))

    async def _call(self, method: str, path: str, deadline: Deadline, **kwargs: object) -> httpx.Response:
        return self._checked(method, path, await self.send(method, path, deadline, **kwargs))

    def _checked(self, method: str, path: str, response: httpx.Response) -> httpx.Response:
        if response.status_code < 400:
            return response
        error = ErrorBody.of(response)
        ours = ANSWERED_AS_OUR_OWN.get((response.status_code, error.code or ""))
        if ours is not None:
            raise ours(error.message)
        raise self.unexpected(method, path, response, error)
