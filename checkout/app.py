"""checkout's HTTP API: POST /checkout places an order.

Its spans: the SERVER span of each request comes from the FastAPI instrumentation
that ``new_app`` installs (shoptrace.server, shoptrace.telemetry); the CLIENT span of
each call to inventory from the httpx instrumentation of InventoryClient's one client
(shoptrace.upstream); "confirm order" and "render receipt" from checkout.orders. Map: docs/code-tour.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from checkout.config import CheckoutSettings
from checkout.contract import CheckoutRequest, CheckoutResponse
from checkout.inventory_client import InventoryClient
from checkout.orders import OrderService
from shoptrace.background import BackgroundWork
from shoptrace.errors import error_response
from shoptrace.logs import current_ids
from shoptrace.server import new_app
from shoptrace.telemetry import Telemetry

log = logging.getLogger(__name__)

#: How long /readyz waits for inventory.
READY_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Running:
    """What checkout opens at start-up and its requests use: the lifespan's state."""

    inventory: InventoryClient
    orders: OrderService


def running(request: Request) -> Running:
    state: Running = request.state.checkout
    return state


def create_app(settings: CheckoutSettings, telemetry: Telemetry) -> FastAPI:
    background = BackgroundWork(timeout_s=settings.background_timeout_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Running]]:
        # One client (one connection pool) per process, opened and closed here.
        inventory = InventoryClient(settings.inventory_url, telemetry)
        orders = OrderService(inventory, background, settings.inventory_timeout_s)
        log.info("checkout ready: inventory at %s", settings.inventory_url)
        try:
            yield {"checkout": Running(inventory=inventory, orders=orders)}
        finally:
            await background.drain(timeout_s=2.0)
            await inventory.aclose()

    app = new_app("checkout", telemetry, lifespan)

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> Response:
        """Ready: inventory answers. Never traced."""
        if await running(request).inventory.ready(READY_TIMEOUT_S):
            return JSONResponse({"status": "ok"})
        return error_response(request.app, 503, "inventory_unavailable", "inventory is not reachable")

    @app.post("/checkout", status_code=201, response_model=CheckoutResponse)
    async def checkout(order: CheckoutRequest, request: Request) -> CheckoutResponse:
        placed = await running(request).orders.place(order.sku, order.quantity)
        return CheckoutResponse(order_id=placed.order_id, sku=placed.sku, quantity=placed.quantity, trace_id=current_ids()[0])

    return app
