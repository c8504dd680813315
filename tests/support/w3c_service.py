"""A service made with the shoptrace kit that only propagates, for the W3C Trace Context test suite.

The suite (github.com/w3c/trace-context, test/) is not vendored: fetch it and
run ``make w3c W3C_SUITE=path/to/trace-context/test`` (README, "Reliability
and security"). Its harness POSTs a JSON list of ``{"url", "arguments"}`` to
``/test``; for each, this service POSTs ``arguments`` to ``url`` through the
kit's instrumented httpx client, so what the harness receives back is what
checkout would send inventory: the kit's SERVER span extracting, its CLIENT
span injecting, shoptrace.propagation in between.

    python -m tests.support.w3c_service     # on W3C_SERVICE_PORT, 5000 by default
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request

from shoptrace import server
from shoptrace.services import Service
from shoptrace.telemetry import Telemetry


def build(telemetry: Telemetry) -> FastAPI:
    client = httpx.AsyncClient(timeout=5)
    telemetry.instrument_client(client)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    app = server.new_app("w3c-propagation", telemetry, lifespan)

    @app.post("/test")
    async def test(request: Request) -> dict[str, Any]:
        for call in await request.json():
            await client.post(call["url"], json=call["arguments"])
        return {}

    return app


if __name__ == "__main__":
    server.main(Service("w3c-propagation", "W3C_SERVICE_PORT", 5000, "W3C_SERVICE_"), build)
