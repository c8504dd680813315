"""One span model for everything that reads traces back, and the one way into it: OTLP.

Spans arrive three ways: as OTLP protobuf (the tests' sink receives the
services' real exports), as OTLP JSON (Jaeger's ``/api/v3`` answers) and as
the SDK's finished spans (the pitfall examples record in memory). Each is
brought to OTLP protobuf with the library that owns that format (protobuf's
``json_format``; the exporter's own ``encode_spans``), and :func:`from_otlp`
turns OTLP into :class:`Span`, so the kind and status names, the attribute
values and the ids are read in one place.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Status, TracesData
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.trace import ReadableSpan


@dataclass
class Event:
    name: str
    attributes: dict[str, Any]


@dataclass
class Span:
    """An exported span; its ``kind`` (server, client, internal, producer, consumer) and ``status`` (unset, ok, error)
    in lower case, as :class:`traceproof.TraceSpan` and the ``traces`` fixture's selectors have them."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: str
    service: str
    status: str
    status_message: str
    attributes: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)
    start_ns: int = 0
    end_ns: int = 0
    scope: str = ""

    def event(self, name: str) -> Event | None:
        return next((e for e in self.events if e.name == name), None)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    @property
    def error(self) -> tuple[str, str] | None:
        """(exception or error type, message) if this span failed, else None.

        The ``exception`` event says most (type and message of what was
        raised); ``error.type`` is what the HTTP conventions set on a failed
        call (``ReadTimeout``, ``500``); the status message is the last resort.
        """
        if self.status != "error":
            return None
        exception = self.event("exception")
        if exception is not None:
            kind = str(exception.attributes.get("exception.type", "exception"))
            return kind.rsplit(".", 1)[-1], str(exception.attributes.get("exception.message", ""))
        return str(self.attributes.get("error.type", "error")), self.status_message


def by_trace(spans: Iterable[Span]) -> dict[str, list[Span]]:
    """Spans grouped by trace id, in order of each trace's first span: the one grouping of traceproof."""
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s.start_ns):
        traces[span.trace_id].append(span)
    return dict(traces)


# -- OTLP -> Span -------------------------------------------------------------


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return _attributes(v.kvlist_value.values)
    return getattr(v, kind) if kind else None


def _attributes(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


def _enum_name(value: int, enum: Any, prefix: str) -> str:
    """``SPAN_KIND_SERVER`` -> ``server``; an unspecified kind reads as internal, as the spec says."""
    name: str = enum.Name(value).removeprefix(prefix).lower()
    return "internal" if name == "unspecified" else name


def from_otlp(resource_spans: Iterable[ResourceSpans]) -> list[Span]:
    """Every span of an OTLP export (``ExportTraceServiceRequest.resource_spans``, ``TracesData.resource_spans``)."""
    spans = []
    for rs in resource_spans:
        service = str(_attributes(rs.resource.attributes).get("service.name", ""))
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    Span(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex() or None,
                        name=s.name,
                        kind=_enum_name(s.kind, PbSpan.SpanKind, "SPAN_KIND_"),
                        service=service,
                        status=_enum_name(s.status.code, Status.StatusCode, "STATUS_CODE_"),
                        status_message=s.status.message,
                        attributes=_attributes(s.attributes),
                        events=[Event(e.name, _attributes(e.attributes)) for e in s.events],
                        links=[(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        scope=ss.scope.name,
                    )
                )
    return spans


# -- the two other ways in ------------------------------------------------------

_HEX_ID = re.compile(r"^(?:[0-9a-fA-F]{16}|[0-9a-fA-F]{32})$")
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _ids_as_base64(node: dict[str, Any]) -> None:
    """OTLP JSON writes ids in hex, where protobuf's JSON mapping of ``bytes`` wants base64.

    A hex id is 16 or 32 characters and a base64 one 12 or 24, so either
    form is read right; the hex ones are rewritten for ``json_format``.
    """
    for key in _ID_FIELDS:
        value = node.get(key)
        if isinstance(value, str) and _HEX_ID.match(value):
            node[key] = base64.b64encode(bytes.fromhex(value)).decode()


def from_otlp_json(payload: dict[str, Any]) -> list[Span]:
    """Spans from OTLP JSON: Jaeger's ``{"result": {"resourceSpans": [...]}}``, or the bare ``TracesData``."""
    data = payload.get("result", payload)
    resource_spans = [dict(rs) for rs in data.get("resourceSpans", [])]
    for rs in resource_spans:
        rs["scopeSpans"] = [dict(ss) for ss in rs.get("scopeSpans", [])]
        for ss in rs["scopeSpans"]:
            ss["spans"] = [dict(s) for s in ss.get("spans", [])]
            for s in ss["spans"]:
                _ids_as_base64(s)
                s["links"] = [dict(link) for link in s.get("links", [])]
                for link in s["links"]:
                    _ids_as_base64(link)
    traces = json_format.ParseDict({"resourceSpans": resource_spans}, TracesData(), ignore_unknown_fields=True)
    return from_otlp(traces.resource_spans)


def from_sdk(spans: Sequence[ReadableSpan]) -> list[Span]:
    """The SDK's finished spans (an in-memory exporter's), encoded as the OTLP exporter would send them."""
    return from_otlp(encode_spans(spans).resource_spans)
