"""inventory's HTTP contract: the request and response bodies its clients rely on."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: A SKU: lowercase words of letters and digits joined by single hyphens, at
#: most 64 characters. Nothing else can reach a URL path or the database.
SKU_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Sku = Annotated[str, Field(pattern=SKU_PATTERN, max_length=64, examples=["item-123"])]
Quantity = Annotated[int, Field(ge=1, le=100, strict=True)]

#: Header carrying the caller's key for POST /reservations, so that a retry or
#: a release can name a reservation whose response never arrived.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
RESERVATION_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
ReservationId = Annotated[str, Field(pattern=RESERVATION_ID_PATTERN)]


class NoExtraFields(BaseModel):
    """A body with a field nobody asked for is refused (422), not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class Stock(NoExtraFields):
    sku: Sku
    available: int


class ReservationRequest(NoExtraFields):
    sku: Sku
    quantity: Quantity


class Reservation(NoExtraFields):
    reservation_id: str
    sku: Sku
    quantity: int
    available: int
