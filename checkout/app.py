"""checkout's HTTP API: POST /checkout places an order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from checkout.config import CheckoutSettings
from checkout.inventory_client import InventoryClient
from checkout.orders import OrderService
from inventory.contract import Quantity, Sku, Strict
from shoptrace.background import BackgroundWork
from shoptrace.errors import error_response
from shoptrace.logs import current_ids
from shoptrace.server import new_app
from shoptrace.telemetry import Telemetry

log = logging.getLogger(__name__)

#: How long /readyz waits for inventory.
READY_TIMEOUT_S = 1.0


class CheckoutRequest(Strict):
    sku: Sku
    quantity: Quantity = 1


class CheckoutResponse(Strict):
    order_id: str
    sku: str
    quantity: int
    trace_id: str | None


def create_app(settings: CheckoutSettings, telemetry: Telemetry) -> FastAPI:
    background = BackgroundWork(timeout_s=settings.background_timeout_s)
    inventory: InventoryClient | None = None
    orders: OrderService | None = None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal inventory, orders
        # One client (one connection pool) per process, opened and closed here.
        inventory = InventoryClient(settings.inventory_url, telemetry)
        orders = OrderService(inventory, background, settings.inventory_timeout_s)
        log.info("checkout ready: inventory at %s", settings.inventory_url)
        try:
            yield
        finally:
            await background.drain(timeout_s=2.0)
            await inventory.aclose()

    app = new_app("checkout", telemetry, lifespan, public_endpoint=settings.public_endpoint)

    @app.get("/readyz", include_in_schema=False)
    async def readyz():  # type: ignore[no-untyped-def]
        """Ready: inventory answers. Never traced."""
        assert inventory is not None
        if await inventory.ready(READY_TIMEOUT_S):
            return {"status": "ok"}
        return error_response(503, "inventory_unavailable", "inventory is not reachable")

    @app.post("/checkout", status_code=201, response_model=CheckoutResponse)
    async def checkout(request: CheckoutRequest) -> CheckoutResponse:
        assert orders is not None
        order = await orders.place(request.sku, request.quantity)
        return CheckoutResponse(order_id=order.order_id, sku=order.sku, quantity=order.quantity, trace_id=current_ids()[0])

    return app
