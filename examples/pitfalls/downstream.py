"""The examples' downstream "inventory": a real ASGI app behind the real ASGI instrumentation.

It is reached over httpx's ASGI transport, and runs in an empty
``contextvars`` context, as another process would (httpx's ASGI transport
would otherwise run it inside the caller's context), so it joins the
caller's trace only if a ``traceparent`` header arrives, as over a socket.
"""

from __future__ import annotations

import asyncio
import contextvars

import httpx
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from examples.pitfalls.recorder import Recorder


class _OwnProcess:
    """Runs an ASGI app in a fresh, empty context: all that crosses is the request (its headers)."""

    def __init__(self, app: OpenTelemetryMiddleware) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.create_task(self.app(scope, receive, send), context=contextvars.Context())


def inventory_app(recorder: Recorder) -> _OwnProcess:
    """A downstream service: GET /stock/{sku}, its SERVER span made by the real ASGI instrumentation."""

    async def stock(request: Request) -> JSONResponse:
        return JSONResponse({"sku": request.path_params["sku"], "available": 7})

    app = Starlette(routes=[Route("/stock/{sku}", stock)])
    return _OwnProcess(
        OpenTelemetryMiddleware(app, tracer_provider=recorder.provider("inventory"), exclude_spans=["receive", "send"])
    )


def inventory_client(recorder: Recorder, instrumented: bool = True) -> httpx.AsyncClient:
    """An httpx client to :func:`inventory_app`; instrumented (CLIENT span + ``traceparent``) or not."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=inventory_app(recorder)), base_url="http://inventory")
    if instrumented:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=recorder.provider("checkout"))
    return client
