"""A stand-in OTLP receiver for the tests: it stores the spans the services really export.

The services under test run their real exporters (OTLP over HTTP/protobuf, or
gRPC) against this receiver, which decodes each export with the official
protobuf definitions and keeps the spans in memory, so tests assert on what
left the process, not on mocks of the instrumentation. The real Collector and
Jaeger are exercised by the end-to-end suite (tests/e2e).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from traceproof.spans import Event, Span, from_otlp

__all__ = ["Event", "OtlpSink", "Span", "SpanSource", "SpanStore"]


class SpanSource(Protocol):
    """Where a test reads a trace's spans from: the OTLP sink here, Jaeger in tests/e2e."""

    def wait_for(self, trace_id: str, until: Callable[[list[Span]], bool], timeout_s: float = ...) -> list[Span]: ...


class SpanStore:
    """Every span received, by trace id; thread-safe."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._exports: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self._cond = threading.Condition()

    def add_export(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = from_otlp(request.resource_spans)
        with self._cond:
            self._spans.extend(spans)
            self._exports.append(request)
            self._cond.notify_all()

    def exports(self) -> list[trace_service_pb2.ExportTraceServiceRequest]:
        """Every export request as received (for tests/support/fake_jaeger.py)."""
        with self._cond:
            return list(self._exports)

    def all(self) -> list[Span]:
        with self._cond:
            return list(self._spans)

    def trace(self, trace_id: str) -> list[Span]:
        with self._cond:
            return [s for s in self._spans if s.trace_id == trace_id]

    def wait_for(self, trace_id: str, until: Callable[[list[Span]], bool], timeout_s: float = 10.0) -> list[Span]:
        """The trace's spans once ``until(spans)`` holds; AssertionError after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                spans = [s for s in self._spans if s.trace_id == trace_id]
                if until(spans):
                    return spans
                left = deadline - time.monotonic()
                if left <= 0:
                    names = sorted(f"{s.service}:{s.kind}:{s.name}" for s in spans)
                    raise AssertionError(f"trace {trace_id} incomplete after {timeout_s} s: {names}")
                self._cond.wait(left)


class _HttpHandler(BaseHTTPRequestHandler):
    store: SpanStore

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces":
            self.send_response(404)
            self.end_headers()
            return
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.store.add_export(request)
        payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class _GrpcTraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, store: SpanStore) -> None:
        self.store = store

    def Export(self, request, context):  # type: ignore[no-untyped-def]  # noqa: N802 (grpc's naming)
        self.store.add_export(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpSink:
    """OTLP/HTTP on ``http_endpoint`` and OTLP/gRPC on ``grpc_endpoint``, both into ``store``."""

    def __init__(self, http_port: int = 0) -> None:
        self.store = SpanStore()
        handler = type("Handler", (_HttpHandler,), {"store": self.store})
        self._http = ThreadingHTTPServer(("127.0.0.1", http_port), handler)
        self._http_thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcTraceService(self.store), self._grpc)
        self._grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._grpc_port}"

    def start(self) -> OtlpSink:
        self._http_thread.start()
        self._grpc.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._grpc.stop(grace=None)
