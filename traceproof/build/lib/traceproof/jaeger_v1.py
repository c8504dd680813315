"""Jaeger 1.x's query API answers (``/api/traces``) as OTLP JSON, so every Jaeger is read by the one OTLP path.

Jaeger's own translator (``model/converter`` in the Jaeger repository, the
direction OTLP -> Jaeger) writes what OTLP holds in fields of its own into
tags: the span kind as ``span.kind``, the status as ``otel.status_code`` and
``otel.status_description`` (and ``error=true``), the scope as
``otel.scope.name``; a parent as the first ``CHILD_OF`` reference, and links
as the other references. This is that mapping read backwards. A span that
came from a Jaeger client (no ``otel.*`` tags) still reads right: its kind
from ``span.kind``, an error from ``error=true``.
"""

from __future__ import annotations

from typing import Any

_KINDS = {
    "server": "SPAN_KIND_SERVER",
    "client": "SPAN_KIND_CLIENT",
    "producer": "SPAN_KIND_PRODUCER",
    "consumer": "SPAN_KIND_CONSUMER",
    "internal": "SPAN_KIND_INTERNAL",
}
#: Tags the translator made out of OTLP's own fields: read into those fields, not kept as attributes.
_FIELD_TAGS = {"span.kind", "otel.status_code", "otel.status_description", "error", "otel.scope.name", "otel.scope.version"}


def _value(tag: dict[str, Any]) -> dict[str, Any]:
    """A Jaeger tag's value as an OTLP ``AnyValue``."""
    kind, value = tag.get("type", "string"), tag.get("value", "")
    if kind == "bool":
        return {"boolValue": bool(value)}
    if kind == "int64":
        return {"intValue": str(int(value))}
    if kind == "float64":
        return {"doubleValue": float(value)}
    return {"stringValue": "" if value is None else str(value)}


def _attributes(tags: list[dict[str, Any]], skip: set[str] | frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    return [{"key": t["key"], "value": _value(t)} for t in tags or [] if t.get("key") not in skip]


def _status(tags: dict[str, Any]) -> dict[str, Any]:
    code = str(tags.get("otel.status_code", "")).upper()
    if code == "ERROR" or (not code and str(tags.get("error", "")).lower() == "true"):
        return {"code": "STATUS_CODE_ERROR", "message": str(tags.get("otel.status_description", ""))}
    return {"code": "STATUS_CODE_OK"} if code == "OK" else {}


def _span(span: dict[str, Any]) -> dict[str, Any]:
    tags = {t["key"]: t.get("value") for t in span.get("tags") or []}
    start_us, duration_us = int(span.get("startTime", 0)), int(span.get("duration", 0))
    references = span.get("references") or []
    parent = next(
        (r for r in references if r.get("refType") == "CHILD_OF" and r.get("traceID") == span["traceID"]),
        None,
    )
    return {
        "traceId": span["traceID"].rjust(32, "0"),
        "spanId": span["spanID"].rjust(16, "0"),
        "parentSpanId": parent["spanID"].rjust(16, "0") if parent else "",
        "name": span.get("operationName", ""),
        "kind": _KINDS.get(str(tags.get("span.kind", "internal")).lower(), "SPAN_KIND_INTERNAL"),
        "startTimeUnixNano": str(start_us * 1000),
        "endTimeUnixNano": str((start_us + duration_us) * 1000),
        "attributes": _attributes(span.get("tags") or [], _FIELD_TAGS),
        "events": [
            {
                "timeUnixNano": str(int(log.get("timestamp", 0)) * 1000),
                "name": str(next((f.get("value") for f in log.get("fields") or [] if f.get("key") == "event"), "")),
                "attributes": _attributes(log.get("fields") or [], {"event"}),
            }
            for log in span.get("logs") or []
        ],
        "links": [
            {"traceId": r["traceID"].rjust(32, "0"), "spanId": r["spanID"].rjust(16, "0")} for r in references if r is not parent
        ],
        "status": _status(tags),
    }


def to_otlp_json(answer: dict[str, Any]) -> dict[str, Any]:
    """``{"data": [trace, ...]}`` of ``/api/traces`` (or ``/api/traces/<id>``) as OTLP JSON ``TracesData``."""
    resource_spans = []
    for trace in answer.get("data") or []:
        processes = trace.get("processes") or {}
        by_scope: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for span in trace.get("spans") or []:
            tags = {t["key"]: t.get("value") for t in span.get("tags") or []}
            key = (str(span.get("processID", "")), str(tags.get("otel.scope.name", "")), str(tags.get("otel.scope.version", "")))
            by_scope.setdefault(key, []).append(_span(span))
        for (process_id, scope_name, scope_version), spans in by_scope.items():
            process = processes.get(process_id) or {}
            resource = [{"key": "service.name", "value": {"stringValue": process.get("serviceName", "")}}]
            resource += _attributes(process.get("tags") or [], {"service.name"})
            resource_spans.append(
                {
                    "resource": {"attributes": resource},
                    "scopeSpans": [{"scope": {"name": scope_name, "version": scope_version}, "spans": spans}],
                }
            )
    return {"resourceSpans": resource_spans}
