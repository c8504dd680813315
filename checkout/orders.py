"""Placing an order: look the SKU up, reserve it, confirm after replying.

All inventory calls of one order share one :class:`Deadline`. A reservation
whose answer never came (timeout, crash, reset) may still have been made, so
it is released after the reply; inventory remembers the release, so even a
reservation still on its way is refused when it arrives. The confirmation
runs after the reply too, in the order's trace (shoptrace.background).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from opentelemetry import trace

from checkout.inventory_client import InventoryClient
from shoptrace.background import BackgroundWork
from shoptrace.upstream import Deadline, UpstreamError

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

#: Time allowed to each attempt at releasing a reservation.
RELEASE_ATTEMPT_S = 2.0


@dataclass(frozen=True)
class Order:
    order_id: str
    sku: str
    quantity: int


class OrderService:
    def __init__(self, inventory: InventoryClient, background: BackgroundWork, inventory_timeout_s: float) -> None:
        self.inventory = inventory
        self.background = background
        self.inventory_timeout_s = inventory_timeout_s

    async def place(self, sku: str, quantity: int) -> Order:
        deadline = Deadline(self.inventory_timeout_s)
        order = Order(order_id=uuid.uuid4().hex, sku=sku, quantity=quantity)
        # Looking the SKU up first answers an unknown SKU without a write. Whether
        # there is enough is decided by the reservation alone: comparing with this
        # read would race every other order placed between the two calls.
        stock = await self.inventory.stock(sku, deadline)
        trace.get_current_span().set_attribute("shoptrace.stock.available", stock.available)
        try:
            await self.inventory.reserve(sku, quantity, order.order_id, deadline)
        except UpstreamError as exc:
            if exc.may_have_arrived:  # the answer was lost, not the request: undo what it may have done
                self.background.start("release reservation", self._release(order))
            raise
        log.info("order %s placed: %d of %s", order.order_id, quantity, sku)
        self.background.start("order confirmation", self._confirm(order))
        return order

    async def _release(self, order: Order) -> None:
        """Undo a reservation whose answer was lost, so no stock stays taken for a failed order.

        Releasing is idempotent, so it is retried until it succeeds or the
        background budget (shoptrace.background) ends it. Each attempt gets its
        own deadline, not what is left of the order's: that one has run out.
        """
        delay_s = 0.05
        while True:
            try:
                released = await self.inventory.release(order.order_id, Deadline(RELEASE_ATTEMPT_S))
                break
            except UpstreamError as exc:
                log.warning("release of reservation %s failed, retrying: %s", order.order_id, exc.message)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 1.0)
        if released is None:
            log.info("reservation %s was never made; inventory will refuse it now", order.order_id)
        else:
            log.info("released reservation %s: %d of %s back in stock", order.order_id, released.quantity, released.sku)

    async def _confirm(self, order: Order) -> None:
        """The confirmation a real shop would e-mail: after the reply, in the same trace."""
        with tracer.start_as_current_span("confirm order", attributes={"shoptrace.order_id": order.order_id}):
            # A blocking step runs on a thread; asyncio.to_thread carries the context along.
            receipt = await asyncio.to_thread(_render_receipt, order)
            log.info("order confirmation sent for %s (%d bytes)", order.order_id, len(receipt))


def _render_receipt(order: Order) -> bytes:
    with tracer.start_as_current_span("render receipt"):
        return f"Order {order.order_id}: {order.quantity} x {order.sku}\n".encode()
