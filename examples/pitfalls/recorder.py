"""Spans recorded in memory, one tracer provider per service, read back as :class:`traceproof.spans.Span`.

Each run of an example gets its own providers and in-memory exporter, never
the global provider, so the examples and their tests stay independent; the
finished spans go through the OTLP encoder the exporter uses, so they are
shown and checked like traces read from Jaeger. In export mode
(:mod:`examples.pitfalls.export`) the same spans are also sent over OTLP once
the run has ended, under the services' exported names.
"""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer

from examples.pitfalls.export import ExportedRun, exported_name, send
from traceproof.spans import Span, by_trace, from_sdk


class Recorder:
    """Tracer providers of their own (one per service) whose finished spans are kept in memory.

    With ``exporting`` the services carry their exported names, and :meth:`export` sends the spans.
    """

    def __init__(self, exporting: bool = False) -> None:
        self.exporting = exporting
        self.exporter = InMemorySpanExporter()
        self._providers: dict[str, TracerProvider] = {}

    def provider(self, service: str = "checkout") -> TracerProvider:
        if service not in self._providers:
            name = exported_name(service) if self.exporting else service
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            provider.add_span_processor(SimpleSpanProcessor(self.exporter))
            self._providers[service] = provider
        return self._providers[service]

    def tracer(self, service: str = "checkout") -> Tracer:
        return self.provider(service).get_tracer("examples.pitfalls")

    def shutdown(self) -> None:
        for provider in self._providers.values():
            provider.shutdown()

    def export(self, label: str) -> ExportedRun:
        """Send every finished span over OTLP (see :func:`examples.pitfalls.export.send`); the run as it printed."""
        send(self.exporter.get_finished_spans())
        return ExportedRun(label, {trace_id: len(spans) for trace_id, spans in self.traces().items()})

    def spans(self) -> list[Span]:
        return from_sdk(self.exporter.get_finished_spans())

    def traces(self) -> dict[str, list[Span]]:
        return by_trace(self.spans())
