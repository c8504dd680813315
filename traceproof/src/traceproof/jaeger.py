"""A small client for Jaeger's query API: one trace by id, a window's traces, the latest failing one.

Jaeger 2 answers ``/api/v3/...`` in OTLP JSON, read into :class:`traceproof.spans.Span`
by :func:`traceproof.spans.from_otlp_json`; Jaeger 1.x answers only ``/api/...``
in its own JSON, translated to OTLP JSON first (:mod:`traceproof.jaeger_v1`).
Which one a server speaks is asked once (``api="auto"``). Everything that can
go wrong on the way is one of a few errors, each with a sentence a person can
act on: Jaeger is not reachable, refuses, is not Jaeger, the id is malformed,
the trace is not (yet) there or not whole.
:meth:`JaegerClient.wait_for` waits for spans on their way, through
:func:`traceproof.wait.poll`, the one loop every wait of traceproof shares.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx

from traceproof.api import ApiClient
from traceproof.errors import SourceError, TraceNotFound
from traceproof.jaeger_v1 import to_otlp_json
from traceproof.spans import Span, from_otlp_json
from traceproof.wait import poll, settled

__all__ = [
    "DEFAULT_JAEGER_URL",
    "Api",
    "JaegerClient",
    "JaegerError",
    "JaegerUnreachable",
    "MalformedTraceId",
    "TraceIncomplete",
    "TraceNotFound",
    "has_spans",
    "jaeger_url",
    "normalize_trace_id",
    "rfc3339",
    "settled",
]

#: Which of Jaeger's query APIs to read: ``auto`` asks which one it answers.
Api = Literal["auto", "v3", "v1"]

DEFAULT_JAEGER_URL = "http://localhost:16686"

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


class JaegerError(SourceError):
    """Something a person must fix or wait for; the message says which."""


class JaegerUnreachable(JaegerError):
    pass


class MalformedTraceId(JaegerError):
    pass


class TraceIncomplete(JaegerError):
    """The wait ended before the spans did what was asked; ``spans`` is what Jaeger had by then."""

    def __init__(self, message: str, spans: list[Span]) -> None:
        super().__init__(message)
        self.spans = spans


#: What :meth:`JaegerClient.wait_for` waits for: true once the spans read so far are enough.
Until = Callable[[list[Span]], bool]


def has_spans(count: int) -> Until:
    """At least ``count`` spans."""
    return lambda spans: len(spans) >= count


def rfc3339(epoch_ns: int) -> str:
    """An instant as Jaeger's query parameters take it, to the nanosecond."""
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def jaeger_url() -> str:
    """Where Jaeger's query API is: JAEGER_URL, else JAEGER_UI_URL (the services' trace links), else localhost."""
    return (os.environ.get("JAEGER_URL") or os.environ.get("JAEGER_UI_URL") or DEFAULT_JAEGER_URL).rstrip("/")


def normalize_trace_id(text: str) -> str:
    """A W3C trace id (32 hex digits, not all zero) in Jaeger's lowercase form, or MalformedTraceId."""
    trace_id = text.strip().lower()
    if not _TRACE_ID.match(trace_id) or int(trace_id, 16) == 0:
        raise MalformedTraceId(
            f"{text!r} is not a trace id: expected 32 hex digits, as in the `trace_id` of an error body "
            "or the middle part of the `traceresponse` header"
        )
    return trace_id


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


# -- the API ---------------------------------------------------------------


class JaegerClient(ApiClient):
    """Jaeger's query API at ``url`` (the UI's address: both are served on 16686)."""

    def __init__(
        self,
        url: str | None = None,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        *,
        api: Api = "auto",
        headers: Mapping[str, str] | None = None,
        ca_file: str | Path | None = None,
    ) -> None:
        super().__init__(url or jaeger_url(), timeout_s, transport, headers, ca_file)
        self._api: Api = api

    def ui_link(self, trace_id: str) -> str:
        return f"{self.url}/trace/{trace_id}"

    @property
    def api(self) -> Api:
        """``v3`` (Jaeger 2's OTLP API) where Jaeger answers it, else ``v1`` (Jaeger 1.x's); asked once."""
        if self._api == "auto":
            self._api = "v3" if self._answers_json("/api/v3/services", "services") else "v1"
            if self._api == "v1" and not self._answers_json("/api/services", "data"):
                raise JaegerError(
                    f"{self.url} answers neither Jaeger's query API v3 (/api/v3/services) nor v1 (/api/services): "
                    "is this Jaeger's query address (port 16686 by default), with its path prefix if it has one?"
                )
        return self._api

    def _answers_json(self, path: str, key: str) -> bool:
        """Whether ``path`` answers 200 with a JSON object holding ``key``; refusals and HTML are said at once."""
        response = self._get(path)
        self._raise_for_refusal(response)
        if response.status_code != 200:
            return False
        try:
            answer = response.json()
        except ValueError:
            return False
        return isinstance(answer, dict) and key in answer

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of the trace; TraceNotFound if Jaeger has none (yet)."""
        trace_id = normalize_trace_id(trace_id)
        response = self._get(f"/api/v3/traces/{trace_id}" if self.api == "v3" else f"/api/traces/{trace_id}")
        if response.status_code == 404:
            raise TraceNotFound(
                f"Jaeger at {self.url} has no trace {trace_id} (yet). Spans reach it within a second "
                "of the request: wait a moment and try again; if it never comes, check that the services "
                "export to the Collector (OTEL_EXPORTER_OTLP_ENDPOINT)."
            )
        spans = from_otlp_json(self._json(response))
        if not spans:
            raise TraceNotFound(f"Jaeger at {self.url} has no spans for trace {trace_id} (yet)")
        return spans

    def wait_for(
        self, trace_id: str, until: Until, timeout_s: float = 20.0, interval_s: float = 0.25, through_restarts: bool = True
    ) -> list[Span]:
        """The trace's spans once ``until(spans)`` holds, asking every ``interval_s``.

        While Jaeger has none of the trace the wait goes on, and while it is
        unreachable too (a restart), unless ``through_restarts`` is false; after
        ``timeout_s`` it raises TraceIncomplete with what it had. A malformed id
        fails at once.
        """
        trace_id = normalize_trace_id(trace_id)
        waits_out = (TraceNotFound, JaegerUnreachable) if through_restarts else (TraceNotFound,)

        def read() -> list[Span]:
            try:
                return self.trace(trace_id)
            except waits_out:
                return []

        spans, done = poll(read, until, timeout_s, interval_s)
        if not done:
            names = sorted(f"{s.service}:{s.kind}:{s.name}" for s in spans)
            raise TraceIncomplete(f"trace {trace_id} not complete in Jaeger at {self.url} after {timeout_s:g} s: {names}", spans)
        return spans

    def services(self) -> list[str]:
        """Every service Jaeger holds spans of."""
        v3 = self.api == "v3"
        answer = self._json(self._get("/api/v3/services" if v3 else "/api/services"), raw=True)
        return sorted(answer.get("services" if v3 else "data") or [])

    def search(self, service: str, start_ns: int, end_ns: int, limit: int) -> dict[str, Any]:
        """Jaeger's OTLP JSON answer: up to ``limit`` whole traces with a span of ``service`` that started in the slice."""
        if self.api == "v1":
            params = {"service": service, "start": str(start_ns // 1000), "end": str(-(-end_ns // 1000)), "limit": str(limit)}
            response = self._get("/api/traces", params=params)
        else:
            params = {
                "query.service_name": service,
                "query.start_time_min": rfc3339(start_ns),
                "query.start_time_max": rfc3339(end_ns),
                "query.num_traces": str(limit),
            }
            response = self._get("/api/v3/traces", params=params)
        if response.status_code == 404:  # Jaeger's answer when no trace matches
            return {}
        return self._json(response)

    def latest_failing_trace(self, service: str, lookback_s: float = 3600, limit: int = 100) -> str:
        """The id of the most recent trace of ``service`` with a span in error, within ``lookback_s``.

        Uses the legacy ``/api/traces?tags={"error":"true"}``, not the v3
        search: the HTTP gateway of Jaeger 2.13 (Go module v1.76.0,
        ``cmd/query/app/apiv3/http_gateway.go``) reads no attribute filter at
        all (it sets ``Attributes: pcommon.NewMap()``, "not supported by
        grpc-gateway"), so ``/api/v3/traces?query.attributes=...`` answers
        every trace in the window, failing or not. The legacy API searches by
        tags, and maps a span's ERROR status to the ``error=true`` tag.
        tests/e2e/test_make_trace.py checks both facts against the stack.
        """
        now_us = int(time.time() * 1e6)
        response = self._get(
            "/api/traces",
            params={
                "service": service,
                "tags": json.dumps({"error": "true"}),
                "start": str(now_us - int(lookback_s * 1e6)),
                "end": str(now_us),
                "limit": str(limit),
            },
        )
        self._raise_for_status(response)
        traces = response.json().get("data") or []
        if not traces:
            raise TraceNotFound(f"Jaeger at {self.url} has no failing trace of {service} in the last {lookback_s / 60:g} minutes")

        def started(t: dict[str, Any]) -> int:
            return max((int(s.get("startTime", 0)) for s in t.get("spans", [])), default=0)

        return normalize_trace_id(max(traces, key=started)["traceID"])

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except httpx.ConnectError as exc:
            if isinstance(exc.__context__, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise JaegerError(
                    f"Jaeger at {self.url} refused TLS: its certificate is not trusted here ({_first_line(exc)}). "
                    "Give the CA that signed it with --jaeger-ca-file."
                ) from None
            raise JaegerUnreachable(
                f"Jaeger is not reachable at {self.url} ({type(exc).__name__}). Start the stack with "
                "`make up`, or point JAEGER_URL (or --jaeger) at your Jaeger."
            ) from exc
        except httpx.TransportError as exc:
            raise JaegerUnreachable(
                f"Jaeger is not reachable at {self.url} ({type(exc).__name__}). Start the stack with "
                "`make up`, or point JAEGER_URL (or --jaeger) at your Jaeger."
            ) from exc

    def _json(self, response: httpx.Response, raw: bool = False) -> dict[str, Any]:
        """The answer's JSON object, as OTLP JSON (a v1 trace answer is translated) unless ``raw``; else a JaegerError."""
        self._raise_for_status(response)
        try:
            answer = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type").split(";")[0]
            raise JaegerError(
                f"{self.url} answered {response.request.url.path} with {kind}, not JSON: is this Jaeger's query address "
                "(port 16686 by default), with its path prefix if it has one?"
            ) from None
        if not isinstance(answer, dict):
            raise JaegerError(f"{self.url} answered {response.request.url.path} with JSON that is not Jaeger's")
        if self.api == "v1" and not raw:
            return to_otlp_json(answer)
        return answer

    def _raise_for_refusal(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403, 407):
            raise JaegerError(
                f"{self.url} refused the request ({response.status_code}): give the credentials it expects as a header, "
                "with --jaeger-header 'Authorization: Bearer ...' or TRACEPROOF_HEADERS"
            )

    def _raise_for_status(self, response: httpx.Response) -> None:
        self._raise_for_refusal(response)
        if response.status_code >= 400:
            raise JaegerError(
                f"Jaeger at {self.url} answered {response.status_code} to {response.request.url.path}: {response.text[:200]}"
            )
