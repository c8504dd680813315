"""The HTTP contract people and the end-to-end tests rely on: codes, bodies, headers."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.processes import TEST_JAEGER_UI_URL, ServiceProcess

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "message", "trace_id", "trace_url"}
    assert body["error"] == code
    assert body["message"] and "Traceback" not in body["message"]
    assert TRACE_ID.match(body["trace_id"])
    assert body["trace_url"] == f"{TEST_JAEGER_UI_URL}/trace/{body['trace_id']}"
    assert response.headers["traceresponse"].split("-")[1] == body["trace_id"]


INVALID_CHECKOUTS = {
    "not json": b"{sku: item-123",
    "not an object": b"[1, 2]",
    "no sku": b'{"quantity": 1}',
    "unknown field": b'{"sku": "item-123", "coupon": "FREE"}',
    "uppercase sku": b'{"sku": "ITEM-123"}',
    "path in sku": b'{"sku": "../stock/item-123"}',
    "sku too long": b'{"sku": "' + b"a" * 65 + b'"}',
    "double hyphen": b'{"sku": "item--123"}',
    "quantity zero": b'{"sku": "item-123", "quantity": 0}',
    "quantity 101": b'{"sku": "item-123", "quantity": 101}',
    "quantity as string": b'{"sku": "item-123", "quantity": "1"}',
    "quantity fractional": b'{"sku": "item-123", "quantity": 1.5}',
}


@pytest.mark.parametrize("body", INVALID_CHECKOUTS.values(), ids=INVALID_CHECKOUTS.keys())
def test_bad_input_is_a_422_invalid_request(checkout: ServiceProcess, body: bytes) -> None:
    response = httpx.post(f"{checkout.url}/checkout", content=body, headers={"content-type": "application/json"})
    assert_error(response, 422, "invalid_request")


def test_quantity_defaults_to_one(checkout: ServiceProcess) -> None:
    response = httpx.post(f"{checkout.url}/checkout", json={"sku": "item-123"}, timeout=10)
    assert response.status_code == 201 and response.json()["quantity"] == 1


def test_unknown_paths_and_methods_are_json_errors(checkout: ServiceProcess, inventory: ServiceProcess) -> None:
    assert_error(httpx.get(f"{checkout.url}/nothing-here"), 404, "not_found")
    assert_error(httpx.get(f"{checkout.url}/checkout"), 405, "method_not_allowed")
    assert_error(httpx.put(f"{inventory.url}/stock/item-123"), 405, "method_not_allowed")
    assert_error(httpx.get(f"{inventory.url}/stock/Not-A-Sku"), 422, "invalid_request")


def test_an_oversized_body_is_a_413(checkout: ServiceProcess) -> None:
    body = b'{"sku": "item-123", "pad": "' + b"x" * 200_000 + b'"}'
    response = httpx.post(f"{checkout.url}/checkout", content=body, headers={"content-type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_inventory_answers_stock_and_reservations(inventory: ServiceProcess) -> None:
    stock = httpx.get(f"{inventory.url}/stock/item-123")
    assert stock.status_code == 200
    assert set(stock.json()) == {"sku", "available"} and stock.json()["sku"] == "item-123"
    reserved = httpx.post(f"{inventory.url}/reservations", json={"sku": "item-123", "quantity": 3})
    assert reserved.status_code == 201
    assert set(reserved.json()) == {"reservation_id", "sku", "quantity", "available"}
    assert_error(httpx.post(f"{inventory.url}/reservations", json={"sku": "sold-out", "quantity": 1}), 409, "out_of_stock")
    assert_error(httpx.post(f"{inventory.url}/reservations", json={"sku": "nope", "quantity": 1}), 404, "unknown_sku")
    assert_error(httpx.get(f"{inventory.url}/stock/fault-crash"), 500, "internal_error")
