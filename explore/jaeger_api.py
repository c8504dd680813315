"""A small client for Jaeger v2's query API: one trace by id, and the latest failing one.

Jaeger answers ``/api/v3/...`` in OTLP JSON, which is parsed here into
:class:`explore.spans.Span`, the model the waterfall and the tests share.
Everything that can go wrong on the way is one of three errors, each with a
sentence a person can act on: Jaeger is not reachable, the id is malformed,
the trace is not (yet) there.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any

import httpx

from explore.spans import Event, Span

DEFAULT_JAEGER_URL = "http://localhost:16686"

_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_HEX = re.compile(r"^[0-9a-f]+$")
_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}


class JaegerError(Exception):
    """Something a person must fix or wait for; the message says which."""


class JaegerUnreachable(JaegerError):
    pass


class TraceNotFound(JaegerError):
    pass


class MalformedTraceId(JaegerError):
    pass


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


# -- OTLP JSON -> Span -----------------------------------------------------


def _id(value: str) -> str:
    """Span and trace ids: OTLP JSON says hex; accept base64 (protobuf JSON) too."""
    if not value:
        return ""
    if _HEX.match(value.lower()) and len(value) in (16, 32):
        return value.lower()
    return base64.b64decode(value).hex()


def _enum(value: Any, names: dict[int, str], prefix: str) -> str:
    if isinstance(value, int):
        return names.get(value, "UNSET")
    if isinstance(value, str):
        return value.removeprefix(prefix) or "UNSET"
    return names[min(names)] if prefix == "STATUS_CODE_" else "INTERNAL"


def _value(v: dict[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    return None


def _attributes(kvs: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in kvs or []}


def parse_otlp_json(payload: dict[str, Any]) -> list[Span]:
    """Spans from Jaeger's ``{"result": {"resourceSpans": [...]}}``."""
    spans = []
    for rs in payload.get("result", payload).get("resourceSpans", []):
        service = str(_attributes(rs.get("resource", {}).get("attributes")).get("service.name", ""))
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                status = s.get("status", {})
                spans.append(
                    Span(
                        trace_id=_id(s["traceId"]),
                        span_id=_id(s["spanId"]),
                        parent_id=_id(s.get("parentSpanId", "")) or None,
                        name=s["name"],
                        kind=_enum(s.get("kind", 1), _KINDS, "SPAN_KIND_"),
                        service=service,
                        status=_enum(status.get("code", 0), _STATUSES, "STATUS_CODE_"),
                        status_message=status.get("message", ""),
                        attributes=_attributes(s.get("attributes")),
                        events=[Event(e["name"], _attributes(e.get("attributes"))) for e in s.get("events", [])],
                        links=[(_id(link["traceId"]), _id(link["spanId"])) for link in s.get("links", [])],
                        start_ns=int(s.get("startTimeUnixNano", 0)),
                        end_ns=int(s.get("endTimeUnixNano", 0)),
                        scope=ss.get("scope", {}).get("name", ""),
                    )
                )
    return spans


# -- the API ---------------------------------------------------------------


class JaegerClient:
    """Jaeger's query API at ``api_url`` (the UI's address: both are served on 16686)."""

    def __init__(self, api_url: str | None = None, timeout_s: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = (api_url or jaeger_url()).rstrip("/")
        self._http = httpx.Client(base_url=self.api_url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JaegerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ui_link(self, trace_id: str) -> str:
        return f"{self.api_url}/trace/{trace_id}"

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of the trace; TraceNotFound if Jaeger has none (yet)."""
        trace_id = normalize_trace_id(trace_id)
        response = self._get(f"/api/v3/traces/{trace_id}")
        if response.status_code == 404:
            raise TraceNotFound(
                f"Jaeger at {self.api_url} has no trace {trace_id} (yet). Spans reach it within a second "
                "of the request: wait a moment and try again; if it never comes, check that the services "
                "export to the Collector (OTEL_EXPORTER_OTLP_ENDPOINT)."
            )
        self._raise_for_status(response)
        spans = parse_otlp_json(response.json())
        if not spans:
            raise TraceNotFound(f"Jaeger at {self.api_url} has no spans for trace {trace_id} (yet)")
        return spans

    def latest_failing_trace(self, service: str = "checkout", lookback_s: float = 3600, limit: int = 100) -> str:
        """The id of the most recent trace of ``service`` with a span in error, within ``lookback_s``.

        Uses the legacy ``/api/traces?tags={"error":"true"}``, not the v3
        search: the HTTP gateway of Jaeger 2.13 (Go module v1.76.0,
        ``cmd/query/app/apiv3/http_gateway.go``) reads no attribute filter at
        all (it sets ``Attributes: pcommon.NewMap()``, "not supported by
        grpc-gateway"), so ``/api/v3/traces?query.attributes=...`` answers
        every trace in the window, failing or not. The legacy API searches by
        tags, and maps a span's ERROR status to the ``error=true`` tag.
        tests/e2e/test_trace_cli.py checks both facts against the stack.
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
            raise TraceNotFound(
                f"Jaeger at {self.api_url} has no failing trace of {service} in the last "
                f"{lookback_s / 60:g} minutes: make one with "
                """curl -s localhost:8080/checkout -H 'content-type: application/json' -d '{"sku": "fault-crash"}'"""
            )

        def started(t: dict[str, Any]) -> int:
            return max((int(s.get("startTime", 0)) for s in t.get("spans", [])), default=0)

        return normalize_trace_id(max(traces, key=started)["traceID"])

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except httpx.TransportError as exc:
            raise JaegerUnreachable(
                f"Jaeger is not reachable at {self.api_url} ({type(exc).__name__}). Start the stack with "
                "`make up`, or point JAEGER_URL (or --jaeger) at your Jaeger."
            ) from exc

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise JaegerError(
                f"Jaeger at {self.api_url} answered {response.status_code} to {response.request.url.path}: {response.text[:200]}"
            )
