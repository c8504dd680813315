"""checkout's settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckoutSettings:
    inventory_url: str
    #: One deadline for all inventory calls of one checkout request.
    inventory_timeout_s: float
    #: Start a new trace per request, linked to the caller's, instead of
    #: continuing it: for an edge whose callers are not trusted. Off by default
    #: (as in Go's otelhttp) so a caller can follow its request into ours.
    public_endpoint: bool = False
    #: How long work after the reply (confirmation, release) may run.
    background_timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> CheckoutSettings:
        timeout = float(os.environ.get("INVENTORY_TIMEOUT_S", "2.0"))
        if timeout <= 0:
            raise ValueError(f"INVENTORY_TIMEOUT_S must be positive, not {timeout}")
        return cls(
            inventory_url=os.environ.get("INVENTORY_URL", "http://localhost:8081").rstrip("/"),
            inventory_timeout_s=timeout,
            public_endpoint=os.environ.get("CHECKOUT_PUBLIC_ENDPOINT", "false").strip().lower() == "true",
        )
