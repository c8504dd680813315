"""checkout owns its API's bodies; what an order holds still fits inventory's contract."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import ValidationError

import inventory.contract
from checkout.app import create_app
from checkout.config import CheckoutSettings
from checkout.contract import CheckoutRequest, CheckoutResponse
from inventory.contract import ReservationRequest
from shoptrace.telemetry import Telemetry


def test_post_checkout_takes_and_answers_checkouts_own_models() -> None:
    settings = CheckoutSettings(inventory_url="http://127.0.0.1:1", inventory_timeout_s=1.0)
    app = create_app(settings, Telemetry(service_name="checkout", provider=None))
    (route,) = [r for r in app.routes if isinstance(r, APIRoute) and r.path == "/checkout"]
    hints = typing.get_type_hints(route.endpoint)
    assert hints["order"] is CheckoutRequest and route.response_model is CheckoutResponse
    assert CheckoutRequest.__module__ == CheckoutResponse.__module__ == "checkout.contract"
    assert not [name for name in vars(inventory.contract) if name.startswith("Checkout")]


def accepts(model: type[Any], body: dict[str, object]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "body",
    [
        {"sku": "item-123", "quantity": 2},
        {"sku": "item-123", "quantity": 0},
        {"sku": "item-123", "quantity": 101},
        {"sku": "item-123", "quantity": "2"},
        {"sku": "Item-123", "quantity": 1},
        {"sku": "item--123", "quantity": 1},
        {"sku": "a" * 65, "quantity": 1},
        {"sku": "item-123", "quantity": 1, "coupon": "FREE"},
    ],
    ids=repr,
)
def test_checkout_accepts_an_order_exactly_when_inventory_would_accept_its_reservation(body: dict[str, object]) -> None:
    assert accepts(CheckoutRequest, body) == accepts(ReservationRequest, body)


def test_quantity_defaults_to_one() -> None:
    assert CheckoutRequest.model_validate({"sku": "item-123"}).quantity == 1
