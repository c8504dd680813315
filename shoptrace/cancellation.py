"""Cancel a request's work when its client goes away: Python's twin of Go's ``ctx.Done()``.

Go's net/http cancels a request's context when the client disconnects, and
everything started with that context stops. Starlette and uvicorn do not:
a handler whose caller has given up keeps running (and keeps the database,
the downstream services and a worker busy) until it finishes. This
middleware watches the connection while the handler runs and cancels the
handler when the client disconnects before the response is complete.

To watch the connection it must own the ASGI ``receive`` channel, so it reads
the (small, JSON) request body itself first, refusing more than
``max_body_bytes`` with a 413 before reading it whole.
"""

from __future__ import annotations

import logging

import anyio
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shoptrace.errors import PayloadTooLarge, error_response

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024


class CancelOnDisconnectMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self._read_body(scope, receive)
        if body is None:
            await self._too_large(scope, receive, send)
            return

        disconnected = anyio.Event()
        response_complete = False
        body_delivered = False
        error: Exception | None = None

        async def replay_receive() -> Message:
            nonlocal body_delivered
            if not body_delivered:
                body_delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            nonlocal response_complete
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True

        async with anyio.create_task_group() as tasks:

            async def watch_connection() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        disconnected.set()
                        if not response_complete:
                            self._note_cancelled(scope)
                            tasks.cancel_scope.cancel()
                        return

            tasks.start_soon(watch_connection)
            try:
                await self.app(scope, replay_receive, tracking_send)
            except Exception as exc:
                # Re-raised below, outside the task group, which would wrap it in an
                # ExceptionGroup and hide its type from the error handling above us.
                error = exc
            finally:
                tasks.cancel_scope.cancel()
        if error is not None:
            raise error

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it is known to exceed the limit."""
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    if int(value) > self.max_body_bytes:
                        return None
                except ValueError:
                    pass
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"request body larger than {self.max_body_bytes} bytes")
        # The rest of the body is not read; closing the connection tells the client to stop sending.
        response = error_response(scope["app"], error.status, error.code, error.message, headers={"connection": "close"})
        await response(scope, receive, send)

    @staticmethod
    def _note_cancelled(scope: Scope) -> None:
        span = trace.get_current_span()
        span.add_event("client disconnected: request cancelled")
        span.set_attribute("shoptrace.cancelled", True)
        log.warning(
            "client disconnected before the response: cancelling %s %s",
            scope.get("method"),
            scope.get("path"),
        )
