"""Jaeger's ``/api/v3/traces/{id}``, answered from the test's OTLP sink, so `make trace` can be tested without the stack.

It serves what the services really exported, in the OTLP JSON that Jaeger
speaks (protobuf's JSON mapping, whose ids are base64: the client reads both),
with Jaeger's 404 for an unknown trace. The real Jaeger is in tests/e2e.
"""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf.json_format import MessageToDict

from json_server import JsonServer
from tests.support.otlp_sink import SpanStore


def otlp_json(store: SpanStore, trace_id: str) -> dict[str, Any]:
    """The sink's spans of ``trace_id`` as ``{"result": {"resourceSpans": [...]}}``."""
    wanted = base64.b64encode(bytes.fromhex(trace_id)).decode()
    resource_spans = []
    for export in store.exports():
        for rs in MessageToDict(export).get("resourceSpans", []):
            scopes = []
            for ss in rs.get("scopeSpans", []):
                spans = [s for s in ss.get("spans", []) if s["traceId"] == wanted]
                if spans:
                    scopes.append({**ss, "spans": spans})
            if scopes:
                resource_spans.append({**rs, "scopeSpans": scopes})
    return {"result": {"resourceSpans": resource_spans}}


class FakeJaeger(JsonServer):
    """``/api/v3/traces/{id}`` from the sink (404 for a trace it does not hold); ``/api/v3/services`` says it is v3."""

    def __init__(self, store: SpanStore) -> None:
        def answer(path: str, query: dict[str, str]) -> tuple[int, Any]:
            if path == "/api/v3/services":
                return 200, {"services": sorted({s.service for s in store.all()})}
            prefix = "/api/v3/traces/"
            payload = otlp_json(store, path[len(prefix) :]) if path.startswith(prefix) else None
            if payload is None or not payload["result"]["resourceSpans"]:
                return 404, {"error": {"httpCode": 404, "message": "trace not found"}}
            return 200, payload

        super().__init__(answer)
