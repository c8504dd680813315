"""Export mode (``PITFALLS_EXPORT=1``, ``make pitfalls EXPORT=1``): each run's spans also go over OTLP, to Jaeger and the doctor.

A person can then open the broken and the fixed traces in Jaeger and see what
``make doctor`` says of breaks whose cause is known. The spans leave as the
services' do: the SDK's OTLP exporter, configured by the standard
``OTEL_EXPORTER_OTLP_*`` variables (http/protobuf to http://localhost:4318, the
stack's Collector, unless ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` says grpc).
They are sent once a run has ended, in one request, so that sending them
neither changes the story's timing nor fails unseen: a run whose spans could
not be sent stops the examples with :class:`ExportFailed`.

In this mode the examples' services are named with :data:`SERVICE_PREFIX`, so
that on a stack they are never taken for its own checkout and inventory. Each
run prints one line (:meth:`ExportedRun.line`) naming its traces, which
:func:`exported_runs` reads back: a test waits for those traces in Jaeger.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

#: Set (to anything but empty or 0) to export each run's spans.
EXPORT_VARIABLE = "PITFALLS_EXPORT"

#: Put before each of the examples' service names when they are exported.
SERVICE_PREFIX = "pitfalls-"


def export_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether :data:`EXPORT_VARIABLE` asks for export mode."""
    return environ.get(EXPORT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def exported_name(service: str) -> str:
    """An example's service as it is named on the stack."""
    return SERVICE_PREFIX + service


def _protocol() -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"))


def otlp_exporter() -> SpanExporter:
    """The SDK's OTLP span exporter for the protocol the environment names (http/protobuf, the services' default, or grpc).

    Endpoint, headers, timeout and compression are read by the exporter itself.
    """
    protocol = _protocol()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise ExportFailed(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc")


def _destination() -> str:
    """Where the spans were sent, as a person would check it."""
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    default = "http://localhost:4317" if _protocol() == "grpc" else "http://localhost:4318"
    return f"{endpoint or default} ({_protocol()})"


class ExportFailed(Exception):
    """The spans could not be sent; the message says where they went and what to check."""


def send(spans: Sequence[ReadableSpan]) -> None:
    """Send ``spans`` over OTLP in one request; ExportFailed if the receiver did not take them."""
    exporter = otlp_exporter()
    try:
        result = exporter.export(spans)
    finally:
        exporter.shutdown()
    if result is not SpanExportResult.SUCCESS:
        raise ExportFailed(
            f"the spans could not be sent over OTLP to {_destination()}: start the stack (make up), "
            "or point OTEL_EXPORTER_OTLP_ENDPOINT at your Collector"
        )


_LINE = re.compile(r'^exported "(?P<label>[^"]+)": (?P<traces>(?:[0-9a-f]{32} \(\d+ spans?\)(?:, )?)+)$', re.MULTILINE)
_TRACE = re.compile(r"([0-9a-f]{32}) \((\d+) spans?\)")


@dataclass(frozen=True)
class ExportedRun:
    """One exported run: its label (``broken: Context()``) and its traces, each with how many spans it was sent with."""

    label: str
    spans_by_trace: dict[str, int]

    @property
    def trace_ids(self) -> list[str]:
        return list(self.spans_by_trace)

    def line(self) -> str:
        """What the run prints, for a person (the ids to open in Jaeger) and for :func:`exported_runs`."""
        traces = ", ".join(f"{trace_id} ({n} span{'' if n == 1 else 's'})" for trace_id, n in self.spans_by_trace.items())
        return f'exported "{self.label}": {traces}'


def exported_runs(output: str) -> list[ExportedRun]:
    """Every run's :meth:`ExportedRun.line` in what the examples printed, in the order they ran."""
    return [
        ExportedRun(match["label"], {trace_id: int(n) for trace_id, n in _TRACE.findall(match["traces"])})
        for match in _LINE.finditer(output)
    ]
