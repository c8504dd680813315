"""What every pitfall example shares: spans recorded in memory, a tiny downstream service, the verdict.

Each example runs the same small story twice, broken and fixed, with its own
SDK :class:`TracerProvider` and an in-memory exporter (never the global
provider, so the examples and their tests stay independent), and turns the
finished spans into :class:`explore.spans.Span` so they are shown and checked
like traces read from Jaeger.

The downstream "inventory" is a real ASGI app behind the real ASGI
instrumentation, reached over httpx's ASGI transport. It runs in an empty
``contextvars`` context, as another process would (httpx's ASGI transport
would otherwise run it inside the caller's context), so it joins the
caller's trace only if a ``traceparent`` header arrives, as over a socket.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer, format_span_id, format_trace_id
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from explore.spans import Event, Span, by_trace
from explore.terminal import wide_console
from explore.waterfall import render_trace


class Recorder:
    """Tracer providers of their own (one per service) whose finished spans are kept in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self._providers: dict[str, TracerProvider] = {}

    def provider(self, service: str = "checkout") -> TracerProvider:
        if service not in self._providers:
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self._providers[service] = provider
        return self._providers[service]

    def tracer(self, service: str = "checkout") -> Tracer:
        return self.provider(service).get_tracer("examples.pitfalls")

    def shutdown(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()

    def spans(self) -> list[Span]:
        return [_from_sdk(s) for s in self.exporter.get_finished_spans()]

    def traces(self) -> dict[str, list[Span]]:
        return by_trace(self.spans())


def _from_sdk(span: ReadableSpan) -> Span:
    ctx = span.get_span_context()
    assert ctx is not None
    return Span(
        trace_id=format_trace_id(ctx.trace_id),
        span_id=format_span_id(ctx.span_id),
        parent_id=format_span_id(span.parent.span_id) if span.parent else None,
        name=span.name,
        kind=span.kind.name,
        service=str(span.resource.attributes.get("service.name", "")),
        status=span.status.status_code.name,
        status_message=span.status.description or "",
        attributes=dict(span.attributes or {}),
        events=[Event(e.name, dict(e.attributes or {})) for e in span.events],
        links=[(format_trace_id(link.context.trace_id), format_span_id(link.context.span_id)) for link in span.links],
        start_ns=span.start_time or 0,
        end_ns=span.end_time or 0,
        scope=span.instrumentation_scope.name if span.instrumentation_scope else "",
    )


class _OwnProcess:
    """Runs an ASGI app in a fresh, empty context: all that crosses is the request (its headers)."""

    def __init__(self, app: OpenTelemetryMiddleware) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.create_task(self.app(scope, receive, send), context=contextvars.Context())


def inventory_app(recorder: Recorder) -> _OwnProcess:
    """A downstream service: GET /stock/{sku}, its SERVER span made by the real ASGI instrumentation."""

    async def stock(request: Request) -> JSONResponse:
        return JSONResponse({"sku": request.path_params["sku"], "available": 7})

    app = Starlette(routes=[Route("/stock/{sku}", stock)])
    return _OwnProcess(
        OpenTelemetryMiddleware(app, tracer_provider=recorder.provider("inventory"), exclude_spans=["receive", "send"])
    )


def inventory_client(recorder: Recorder, instrumented: bool = True) -> httpx.AsyncClient:
    """An httpx client to :func:`inventory_app`; instrumented (CLIENT span + ``traceparent``) or not."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=inventory_app(recorder)), base_url="http://inventory")
    if instrumented:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=recorder.provider("checkout"))
    return client


@dataclass(frozen=True)
class Outcome:
    """One run of a story: its spans, grouped by trace."""

    label: str
    traces: dict[str, list[Span]]

    @property
    def trace_count(self) -> int:
        return len(self.traces)

    def verdict(self) -> str:
        n = self.trace_count
        return "1 trace" if n == 1 else f"{n} traces"


#: One run of an example: what happens in checkout (and beyond) for one request.
Story = Callable[["Recorder"], Coroutine[Any, Any, None]]


def run_story(label: str, story: Story) -> Outcome:
    """Run one async story on a fresh event loop and recorder; its traces once every span has ended."""
    recorder = Recorder()
    asyncio.run(story(recorder))
    recorder.shutdown()
    return Outcome(label, recorder.traces())


def show(title: str, lesson: str, broken: Outcome, fixed: Outcome, console: Console | None = None) -> None:
    """The broken and the fixed trace side by side, each trace in a box of its own."""
    console = console or wide_console(200)

    def column(outcome: Outcome, style: str) -> Panel:
        boxes = [
            Panel(render_trace(spans, bar_width=12, compact=True), title=f"trace {trace_id[:8]}…", title_align="left")
            for trace_id, spans in outcome.traces.items()
        ]
        return Panel(Group(*boxes), title=f"{outcome.label}: {outcome.verdict()}", title_align="left", border_style=style)

    side_by_side = Table.grid(expand=True, padding=(0, 1))
    side_by_side.add_column(ratio=1)
    side_by_side.add_column(ratio=1)
    side_by_side.add_row(column(broken, "red"), column(fixed, "green"))
    console.rule(f"[bold]{title}")
    console.print(Text(lesson, style="dim"))
    console.print(side_by_side)


def checkout_request(recorder: Recorder) -> AbstractContextManager[trace.Span]:
    """The incoming request every story starts from: checkout's SERVER span, made current."""
    return recorder.tracer().start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER)


def main(title: str, lesson: str, *pairs: tuple[Outcome, Outcome]) -> None:
    """An example's ``python -m``: each broken/fixed pair side by side."""
    for broken, fixed in pairs:
        show(title, lesson, broken, fixed)
