"""The plugin's ``traces`` read this process's spans: ``trace_source`` overridden with an in-memory source."""

from __future__ import annotations

import pytest
from opentelemetry.instrumentation.propagators import TraceResponsePropagator, set_global_response_propagator
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceproof import MemorySource, TraceSource

# Each response says its trace id (the traceresponse header), which is how traces.get(response) finds it.
set_global_response_propagator(TraceResponsePropagator())


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture(scope="session")
def trace_source(exporter: InMemorySpanExporter) -> TraceSource:
    return MemorySource.of(exporter)
