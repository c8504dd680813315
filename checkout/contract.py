"""checkout's HTTP contract: the body POST /checkout takes and the one it answers.

checkout's API is its own, so are these models; only what an order holds is
inventory's to define (a SKU, a quantity), because checkout forwards both to
inventory as they came: an order inventory would refuse is refused here first,
with checkout's own 422.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from inventory.contract import Quantity, Sku


class CheckoutRequest(BaseModel):
    # A field nobody asked for is refused (422), not silently ignored.
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Quantity = 1


class CheckoutResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str
    sku: str
    quantity: int
    trace_id: str | None
