"""Reading traces back from Jaeger's API (v3, OTLP JSON), as the end-to-end tests and people do."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.otlp_sink import Event, Span

_HEX = re.compile(r"^[0-9a-f]+$")
_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUSES = {0: "UNSET", 1: "OK", 2: "ERROR"}


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


class JaegerTraces:
    """``wait_for`` over Jaeger's ``/api/v3/traces/{id}``: a 404 means "not there yet"."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")

    def fetch(self, trace_id: str) -> list[Span]:
        response = httpx.get(f"{self.api_url}/api/v3/traces/{trace_id}", timeout=5)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return parse_otlp_json(response.json())

    def wait_for(self, trace_id: str, until: Callable[[list[Span]], bool], timeout_s: float = 20.0) -> list[Span]:
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.fetch(trace_id)
            if until(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted(f"{s.service}:{s.kind}:{s.name}" for s in spans)
                raise AssertionError(f"trace {trace_id} not complete in Jaeger after {timeout_s} s: {names}")
            time.sleep(0.25)
