"""inventory's HTTP API: stock lookups and atomic reservations.

Its spans: the SERVER span of each request comes from the FastAPI instrumentation
that ``new_app`` installs (shoptrace.server, shoptrace.telemetry); one CLIENT span per
SQL statement from the sqlite3 instrumentation of each database connection
(inventory.store). Map: docs/code-tour.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Header, Path

from inventory.config import InventorySettings
from inventory.contract import (
    IDEMPOTENCY_KEY_HEADER,
    RESERVATION_ID_PATTERN,
    Reservation,
    ReservationId,
    ReservationRequest,
    Sku,
    Stock,
)
from inventory.faults import Faults
from inventory.store import InventoryStore
from shoptrace.server import new_app
from shoptrace.telemetry import Telemetry

log = logging.getLogger(__name__)


def create_app(settings: InventorySettings, telemetry: Telemetry) -> FastAPI:
    faults = Faults(settings.slow_s, settings.fault_rate, settings.fault_seed)
    store = InventoryStore(settings.db_path, telemetry.provider, between_statements=faults.between_statements)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await store.open()
        log.info("inventory ready: database %s", settings.db_path)
        try:
            yield
        finally:
            await store.close()

    app = new_app("inventory", telemetry, lifespan)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Ready: the database answers. Never traced."""
        await store.ping()
        return {"status": "ok"}

    @app.get("/stock/{sku}", response_model=Stock)
    async def get_stock(sku: Annotated[Sku, Path()]) -> Stock:
        await faults.apply(sku)
        return Stock(sku=sku, available=await store.available(sku))

    @app.post("/reservations", status_code=201, response_model=Reservation)
    async def reserve(
        body: ReservationRequest,
        idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_KEY_HEADER, pattern=RESERVATION_ID_PATTERN)] = None,
    ) -> Reservation:
        await faults.apply(body.sku)
        record = await store.reserve(body.sku, body.quantity, idempotency_key)
        log.info("reserved %d of %s as %s", record.quantity, record.sku, record.reservation_id)
        return Reservation(**record.__dict__)

    @app.delete("/reservations/{reservation_id}", response_model=Reservation)
    async def release(reservation_id: Annotated[ReservationId, Path()]) -> Reservation:
        record = await store.release(reservation_id)
        log.info("released %d of %s from %s", record.quantity, record.sku, reservation_id)
        return Reservation(**record.__dict__)

    return app
