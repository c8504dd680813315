"""Jaeger's ``/api/v3/traces/{id}``, answered from the test's OTLP sink, so `make trace` can be tested without the stack.

It serves what the services really exported, in the OTLP JSON that Jaeger
speaks (protobuf's JSON mapping, whose ids are base64: the client reads both),
with Jaeger's 404 for an unknown trace. The real Jaeger is in tests/e2e.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict

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


class FakeJaeger:
    def __init__(self, store: SpanStore) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                prefix = "/api/v3/traces/"
                payload = otlp_json(store, self.path[len(prefix) :]) if self.path.startswith(prefix) else None
                if payload is None or not payload["result"]["resourceSpans"]:
                    body, status = b'{"error": {"httpCode": 404, "message": "trace not found"}}', 404
                else:
                    body, status = json.dumps(payload).encode(), 200
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeJaeger:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
