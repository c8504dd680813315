"""One converter for the three ways spans arrive: the same SDK span read as protobuf, as OTLP JSON and as SDK data."""

from __future__ import annotations

import base64

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from traceproof.spans import from_otlp, from_otlp_json, from_sdk


def finished_spans():  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "inventory"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.traceproof")
    with tracer.start_as_current_span("GET /stock/{sku}", kind=SpanKind.SERVER) as parent:
        with tracer.start_as_current_span("SELECT", attributes={"db.rows": 2, "tags": ["a", "b"]}) as child:
            child.add_event("log", {"level": "warning"})
            child.add_link(parent.get_span_context(), {"why": "test"})
        parent.set_status(Status(StatusCode.ERROR, "SimulatedCrash: boom"))
        parent.record_exception(RuntimeError("boom"))
    provider.shutdown()
    return exporter.get_finished_spans()


def otlp_json(spans) -> dict:  # type: ignore[no-untyped-def]
    """OTLP JSON as Jaeger writes it: protobuf's JSON mapping, ids in hex."""
    payload = json_format.MessageToDict(encode_spans(spans))
    for rs in payload["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for node in (s, *s.get("links", [])):
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in node:
                            node[key] = base64.b64decode(node[key]).hex()
    return {"result": payload}


def test_the_same_spans_read_the_same_from_protobuf_json_and_the_sdk() -> None:
    spans = finished_spans()
    from_sdk_spans = from_sdk(spans)
    assert from_otlp(encode_spans(spans).resource_spans) == from_sdk_spans
    assert from_otlp_json(otlp_json(spans)) == from_sdk_spans

    child, parent = from_sdk_spans
    assert (parent.kind, parent.status, parent.status_message, parent.service) == (
        "server",
        "error",
        "SimulatedCrash: boom",
        "inventory",
    )
    assert parent.error == ("RuntimeError", "boom")
    assert (child.kind, child.parent_id, child.attributes) == ("internal", parent.span_id, {"db.rows": 2, "tags": ["a", "b"]})
    assert child.links == [(parent.trace_id, parent.span_id)] and child.event("log") is not None
    assert len(parent.trace_id) == 32 and len(parent.span_id) == 16 and child.scope == "tests.traceproof"
