"""Small readers for the assertions on traces: pick spans, parse trace headers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from tests.support.otlp_sink import Span

_TRACERESPONSE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class TraceResponse:
    trace_id: str
    span_id: str
    flags: str


def traceresponse(response: httpx.Response) -> TraceResponse:
    header = response.headers.get("traceresponse")
    assert header is not None, f"no traceresponse header on {response.status_code} {response.url}"
    match = _TRACERESPONSE.match(header)
    assert match, f"malformed traceresponse: {header!r}"
    return TraceResponse(*match.groups())


def select(spans: list[Span], service: str | None = None, kind: str | None = None, name: str | None = None) -> list[Span]:
    return [
        s
        for s in spans
        if (service is None or s.service == service) and (kind is None or s.kind == kind) and (name is None or s.name == name)
    ]


def one(spans: list[Span], **criteria: str) -> Span:
    found = select(spans, **criteria)
    assert len(found) == 1, f"expected one span {criteria}, found {[(s.service, s.kind, s.name) for s in found]}"
    return found[0]


def children(spans: list[Span], parent: Span) -> list[Span]:
    return [s for s in spans if s.parent_id == parent.span_id]
