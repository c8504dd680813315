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
from collections.abc import Callable
from concurrent import futures

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from json_server import LoopbackServer, Reply, Request
from traceproof.spans import Event, Span, from_otlp

__all__ = ["Event", "OtlpSink", "Span", "SpanStore"]


class SpanStore:
    """Every span received, in order of arrival; thread-safe. Tests read it through traceproof's
    ``traces`` fixture (tests/conftest.py makes it the plugin's ``trace_source``)."""

    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()

    def add_export(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = from_otlp(request.resource_spans)
        with self._lock:
            self._spans.extend(spans)

    def all(self) -> list[Span]:
        with self._lock:
            return list(self._spans)


def _receive(store: SpanStore) -> Callable[[Request], Reply]:
    """OTLP/HTTP (protobuf, gzip or not) on /v1/traces, into ``store``."""

    def handle(request: Request) -> Reply:
        if request.method != "POST" or request.path != "/v1/traces":
            return 404, "text/plain", b""
        body = gzip.decompress(request.body) if request.headers.get("content-encoding") == "gzip" else request.body
        export = trace_service_pb2.ExportTraceServiceRequest()
        export.ParseFromString(body)
        store.add_export(export)
        return 200, "application/x-protobuf", trace_service_pb2.ExportTraceServiceResponse().SerializeToString()

    return handle


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
        self._http = LoopbackServer(_receive(self.store), port=http_port)
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_GrpcTraceService(self.store), self._grpc)
        self._grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")

    @property
    def http_endpoint(self) -> str:
        return self._http.url

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._grpc_port}"

    def start(self) -> OtlpSink:
        self._http.start()
        self._grpc.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self._grpc.stop(grace=None)
