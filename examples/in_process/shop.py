"""Two services in one process, for a unit test of their trace: ``front`` calls ``stock`` over HTTP that never leaves it.

Each service has its own tracer provider (its own ``service.name``), both
finishing spans into one ``InMemorySpanExporter`` at once. ``front`` reaches
``stock`` through httpx's ``ASGITransport`` wrapped in the httpx
instrumentation's transport, so the call makes a CLIENT span and carries
``traceparent`` exactly as a call over the network would. :class:`Elsewhere`
runs ``stock`` in a context of its own, as another process would: without it
``stock`` would see ``front``'s span as current and make an INTERNAL span
under it, where a real server makes a SERVER span from the header alone.
"""

from __future__ import annotations

import asyncio
import contextvars

import httpx
from fastapi import FastAPI, HTTPException
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def provider(service: str, exporter: InMemorySpanExporter) -> TracerProvider:
    traced = TracerProvider(resource=Resource.create({"service.name": service}))
    traced.add_span_processor(SimpleSpanProcessor(exporter))
    return traced


class Elsewhere(httpx.AsyncBaseTransport):
    """httpx's ASGITransport, with the app run in an empty context: only the headers cross, as over a network."""

    def __init__(self, app: FastAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await asyncio.create_task(self.inner.handle_async_request(request), context=contextvars.Context())


def stock_app(exporter: InMemorySpanExporter) -> FastAPI:
    app = FastAPI()

    @app.get("/stock/{sku}")
    async def stock(sku: str) -> dict[str, int]:
        if sku == "unknown":
            raise HTTPException(404, "no such sku")
        return {"available": 3}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider("stock", exporter))
    return app


def front_app(exporter: InMemorySpanExporter, stock: FastAPI, propagate: bool = True) -> FastAPI:
    """``propagate=False`` is the bug to catch: a bare client, no CLIENT span and no ``traceparent``."""
    app = FastAPI()
    traced = provider("front", exporter)
    transport: httpx.AsyncBaseTransport = Elsewhere(stock)
    if propagate:
        transport = AsyncOpenTelemetryTransport(transport, tracer_provider=traced)

    @app.post("/orders/{sku}")
    async def order(sku: str) -> dict[str, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://stock") as client:
            answer = await client.get(f"/stock/{sku}")
        if answer.status_code != 200:
            raise HTTPException(409, "not in stock")
        return {"sku": sku}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=traced)
    return app
