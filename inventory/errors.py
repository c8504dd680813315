"""inventory's domain errors: what its API answers when a request cannot be done.

Their codes are part of inventory's contract: checkout answers ``unknown_sku``
and ``out_of_stock`` with these same classes when inventory does.
"""

from __future__ import annotations

from shoptrace.errors import ApiError


class UnknownSku(ApiError):
    status, code = 404, "unknown_sku"


class OutOfStock(ApiError):
    status, code = 409, "out_of_stock"


class ReservationConflict(ApiError):
    status, code = 409, "reservation_conflict"


class UnknownReservation(ApiError):
    status, code = 404, "unknown_reservation"
