"""Calling another service: one deadline per request, and every way a call can fail as an API error.

A service's typed client for a service it calls subclasses
:class:`UpstreamClient`, names the callee and its three errors (each with
the caller's own error code), and maps the callee's answers to its domain.
What can go wrong on the wire is mapped here, once:

==========================================  ===========================
the callee answered 5xx or an unknown 4xx   ``failed`` (502)
connection refused, reset, closed early     ``unavailable`` (503)
the deadline passed                         ``timeout`` (504)
==========================================  ===========================

The deadline is enforced by httpx's own timeouts, set per call to the time
left, not by ``asyncio.timeout`` around the call: cancelling the call from
outside would end its CLIENT span with no error, while httpx's timeout ends
it ERROR with ``error.type`` = ``ReadTimeout`` (or ``ConnectTimeout``...).
When the call times out httpx drops the connection, which the callee sees as
a disconnect and cancels its own work (shoptrace.cancellation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

import httpx
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from pydantic import BaseModel, ValidationError

from shoptrace.errors import ApiError
from shoptrace.telemetry import Telemetry

Model = TypeVar("Model", bound=BaseModel)

#: Idle connections are dropped before the callee's keep-alive (shoptrace.server.KEEP_ALIVE_S)
#: closes them, so a request never races the server closing its connection.
KEEP_ALIVE_EXPIRY_S = 5.0


class UpstreamError(ApiError):
    """A call to another service that did not end as agreed.

    ``may_have_arrived`` is False only when no connection was made, so the
    request was never sent and changed nothing there; otherwise whatever it
    asked for may have happened, and the caller may have to undo it.
    """

    def __init__(self, message: str, may_have_arrived: bool = True) -> None:
        super().__init__(message)
        self.may_have_arrived = may_have_arrived


class UpstreamFailed(UpstreamError):
    status = 502


class UpstreamUnavailable(UpstreamError):
    status = 503


class UpstreamTimeout(UpstreamError):
    status = 504


@dataclass
class Deadline:
    """One time budget shared by every upstream call of one request."""

    budget_s: float
    _end: float = field(init=False)

    def __post_init__(self) -> None:
        self._end = time.monotonic() + self.budget_s

    def remaining(self) -> float:
        return self._end - time.monotonic()


@dataclass(frozen=True)
class ErrorBody:
    """An error answer in the shape of shoptrace.errors (``{"error", "message", ...}``), read once."""

    code: str | None
    message: str

    @classmethod
    def of(cls, response: httpx.Response) -> ErrorBody:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(code=None, message=response.reason_phrase)
        code = body.get("error")
        message = body.get("message")
        return cls(
            code=code if isinstance(code, str) else None,
            message=message if isinstance(message, str) else response.reason_phrase,
        )


class UpstreamClient:
    """One instrumented ``httpx.AsyncClient`` (one connection pool) for one callee, opened once per process."""

    #: The callee's name, as error messages say it.
    name: ClassVar[str]
    failed: ClassVar[type[UpstreamFailed]]
    unavailable: ClassVar[type[UpstreamUnavailable]]
    timeout: ClassVar[type[UpstreamTimeout]]

    def __init__(self, base_url: str, telemetry: Telemetry) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=KEEP_ALIVE_EXPIRY_S),
            # Connection errors answer 503 at once: no silent retries, the caller decides.
            transport=httpx.AsyncHTTPTransport(retries=0),
        )
        telemetry.instrument_client(self._http)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def ready(self, timeout_s: float) -> bool:
        """Readiness probe: the callee answers /healthz. Not traced, like the probes that call it."""
        try:
            with suppress_http_instrumentation():
                response = await self._http.get("/healthz", timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def send(self, method: str, path: str, deadline: Deadline, **kwargs: object) -> httpx.Response:
        """The callee's answer, whatever its status; a transport failure or no time left raises."""
        left = deadline.remaining()
        if left <= 0:
            raise self.timeout(f"{self.name} did not answer within {deadline.budget_s:g} s")
        try:
            return await self._http.request(method, path, timeout=httpx.Timeout(left), **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException as exc:
            raise self.timeout(f"{self.name} did not answer within {deadline.budget_s:g} s ({type(exc).__name__})") from exc
        except httpx.ConnectError as exc:
            raise self.unavailable(f"{self.name} unreachable: {exc}", may_have_arrived=False) from exc
        except httpx.TransportError as exc:
            raise self.unavailable(f"{self.name} unreachable: {type(exc).__name__}: {exc}") from exc

    def unexpected(self, method: str, path: str, response: httpx.Response, error: ErrorBody) -> UpstreamFailed:
        """The 502 for an answer the caller has no meaning for."""
        return self.failed(f"{self.name} answered {response.status_code} to {method} {path}: {error.message}")

    def parse(self, model: type[Model], response: httpx.Response) -> Model:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise self.failed(f"{self.name} answered {response.status_code} with an unexpected body") from exc
