"""HTTP error mapping for both services, in one place.

Every error either service answers is JSON of one shape::

    {"error": CODE, "message": TEXT, "trace_id": HEX32, "trace_url": JAEGER_UI_URL/trace/HEX32}

(the two trace fields are null when tracing is off). Business code raises an
:class:`ApiError` subclass (each service's domain errors live in that service:
``inventory/errors.py``, ``checkout/errors.py``); FastAPI's validation errors, Starlette's 404/405
and any unhandled exception are mapped here too, so no request ever sees a
stack trace or a framework's own error format.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoptrace.logs import current_ids
from shoptrace.settings import DEFAULT_JAEGER_UI_URL

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with its HTTP status and stable machine-readable code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ApiError):
    status, code = 422, "invalid_request"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


#: Starlette's own HTTP errors (no route, wrong method...) by status.
_FRAMEWORK_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


def link_traces_to(app: Starlette, jaeger_ui_url: str) -> None:
    """Make every error body ``app`` answers carry a ``trace_url`` into the Jaeger UI at this address.

    Kept in ``app.state`` (Starlette's place for an app's own settings), set
    once at start-up by shoptrace.server.main from JAEGER_UI_URL; an app that
    was never told links to :data:`~shoptrace.settings.DEFAULT_JAEGER_UI_URL`.
    """
    app.state.jaeger_ui_url = jaeger_ui_url.rstrip("/")


def error_body(app: Starlette, code: str, message: str) -> dict[str, Any]:
    """The JSON body of every error ``app`` answers, carrying the current trace id and a link to it."""
    trace_id, _ = current_ids()
    jaeger_ui_url = getattr(app.state, "jaeger_ui_url", DEFAULT_JAEGER_UI_URL)
    return {
        "error": code,
        "message": message,
        "trace_id": trace_id,
        "trace_url": f"{jaeger_ui_url}/trace/{trace_id}" if trace_id else None,
    }


def error_response(
    app: Starlette, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error answer of ``app`` (``request.app``; ``scope["app"]`` in a middleware): :func:`error_body` as JSON."""
    return JSONResponse(error_body(app, code, message), status_code=status, headers=headers)


def _describe_validation(exc: RequestValidationError) -> str:
    """One readable sentence from pydantic's error list, without echoing the input back."""
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return "body is not valid JSON"
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _on_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if exc.status >= 500:
        log.error("%s %s answered %d %s: %s", request.method, request.url.path, exc.status, exc.code, exc.message)
    return error_response(request.app, exc.status, exc.code, exc.message)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request.app, 422, InvalidRequest.code, _describe_validation(exc))


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _FRAMEWORK_CODES.get(exc.status_code, "http_error")
    return error_response(request.app, exc.status_code, code, str(exc.detail), headers=exc.headers)


def install_handlers(app: FastAPI) -> None:
    """Map every error a route raises to the JSON error shape.

    What escapes the routes and the other middleware is caught by
    :class:`UnhandledErrorMiddleware`, which shoptrace.server puts in the stack.
    """
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)


class UnhandledErrorMiddleware:
    """Turns an unhandled exception into one logged traceback and a JSON 500.

    Starlette's ServerErrorMiddleware re-raises after answering, so uvicorn
    logs a second traceback (in plain text) and closes the keep-alive
    connection, which the caller then sees as a spurious connection error.
    Handling it here, inside the SERVER span, avoids all three: the span gets
    the exception event, stdout gets one JSON line with the traceback, and
    the connection stays usable.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            span = trace.get_current_span()
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            log.exception("unhandled error in %s %s", scope.get("method"), scope.get("path"))
            if started:
                # Too late for a clean answer: end the response so the client is not left hanging.
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            response = error_response(scope["app"], 500, "internal_error", "internal error")
            await response(scope, receive, send)
