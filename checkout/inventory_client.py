"""checkout's typed client for inventory, over the one instrumented ``httpx.AsyncClient``.

Every call carries the trace (the instrumentation injects ``traceparent``),
runs within what is left of the request's :class:`Deadline`, and turns what
can go wrong on the wire into one of checkout's API errors:

==========================================  ===========================
inventory answered 404 / 409                UnknownSku / OutOfStock
inventory answered 5xx or another 4xx       InventoryFailed (502)
connection refused, reset, closed early     InventoryUnavailable (503)
the deadline passed                         InventoryTimeout (504)
==========================================  ===========================

The deadline is enforced by httpx's own timeouts, set per call to the time
left, not by ``asyncio.timeout`` around the call: cancelling the call from
outside would end its CLIENT span with no error, while httpx's timeout ends
it ERROR with ``error.type`` = ``ReadTimeout`` (or ``ConnectTimeout``...).
When the call times out httpx drops the connection, which inventory sees as
a disconnect and cancels its own work (shoptrace.cancellation).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote

import httpx
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from pydantic import BaseModel, ValidationError

from inventory.contract import IDEMPOTENCY_KEY_HEADER, Reservation, ReservationRequest, Stock
from shoptrace.errors import (
    ApiError,
    InventoryFailed,
    InventoryTimeout,
    InventoryUnavailable,
    OutOfStock,
    UnknownSku,
)
from shoptrace.telemetry import Telemetry

log = logging.getLogger(__name__)

Model = TypeVar("Model", bound=BaseModel)

#: Idle connections are dropped before inventory's keep-alive (shoptrace.server.KEEP_ALIVE_S)
#: closes them, so a request never races the server closing its connection.
KEEP_ALIVE_EXPIRY_S = 5.0

#: inventory's answers that checkout passes on as its own errors.
_PASSED_ON: dict[tuple[int, str], type[ApiError]] = {
    (404, UnknownSku.code): UnknownSku,
    (409, OutOfStock.code): OutOfStock,
}


class InventoryNotReached(InventoryUnavailable):
    """No connection could be made: the request was never sent, so it changed nothing."""


@dataclass
class Deadline:
    """One time budget shared by every inventory call of one checkout request."""

    budget_s: float
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = time.monotonic() + self.budget_s

    def remaining(self) -> float:
        return self._end - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        """httpx timeouts for the next call: the time left, or InventoryTimeout if none is."""
        left = self.remaining()
        if left <= 0:
            raise InventoryTimeout(f"inventory did not answer within {self.budget_s:g} s")
        return httpx.Timeout(left)


class InventoryClient:
    """inventory's API as typed methods. Open it once per process, in the app's lifespan."""

    def __init__(self, base_url: str, telemetry: Telemetry) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=KEEP_ALIVE_EXPIRY_S),
            # Connection errors answer 503 at once: no silent retries, the caller decides.
            transport=httpx.AsyncHTTPTransport(retries=0),
        )
        telemetry.instrument_client(self._http)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stock(self, sku: str, deadline: Deadline) -> Stock:
        response = await self._send("GET", f"/stock/{quote(sku, safe='')}", deadline)
        return self._parse(Stock, response)

    async def reserve(self, sku: str, quantity: int, reservation_id: str, deadline: Deadline) -> Reservation:
        body = ReservationRequest(sku=sku, quantity=quantity).model_dump()
        response = await self._send(
            "POST", "/reservations", deadline, json=body, headers={IDEMPOTENCY_KEY_HEADER: reservation_id}
        )
        return self._parse(Reservation, response)

    async def release(self, reservation_id: str, deadline: Deadline) -> Reservation | None:
        """Give a reservation back; None if inventory never made it (it now never will)."""
        response = await self._send("DELETE", f"/reservations/{quote(reservation_id, safe='')}", deadline)
        if response.status_code == 404:
            return None
        return self._parse(Reservation, response)

    async def ready(self, timeout_s: float) -> bool:
        """Readiness probe: inventory answers /healthz. Not traced, like the probes that call it."""
        try:
            with suppress_http_instrumentation():
                response = await self._http.get("/healthz", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def _send(self, method: str, path: str, deadline: Deadline, **kwargs: object) -> httpx.Response:
        try:
            response = await self._http.request(method, path, timeout=deadline.timeout(), **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise InventoryTimeout(
                f"inventory did not answer within {deadline.budget_s:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.ConnectError as exc:
            raise InventoryNotReached(f"inventory unreachable: {exc}") from exc
        except httpx.TransportError as exc:
            raise InventoryUnavailable(f"inventory unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code < 400 or response.status_code == 404 and method == "DELETE":
            return response
        code = _error_code(response)
        passed_on = _PASSED_ON.get((response.status_code, code or ""))
        message = _error_message(response)
        if passed_on is not None:
            raise passed_on(message)
        raise InventoryFailed(f"inventory answered {response.status_code} to {method} {path}: {message}")

    @staticmethod
    def _parse(model: type[Model], response: httpx.Response) -> Model:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise InventoryFailed(f"inventory answered {response.status_code} with an unexpected body") from exc


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return response.reason_phrase
