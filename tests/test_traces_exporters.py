"""OTEL_TRACES_EXPORTER: one exporter, a list of them (as the spec allows), none, or a clear refusal."""

from __future__ import annotations

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from shoptrace import telemetry
from shoptrace.span_buffer import BufferedExporter
from shoptrace.telemetry import exporter_names
from tests.conftest import Spawn
from traceproof.traces import Traces


@pytest.mark.parametrize("unset", [None, "", " "])
def test_unset_or_empty_means_otlp(unset: str | None) -> None:
    assert exporter_names(unset) == ["otlp"]


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("otlp", ["otlp"]),
        ("console", ["console"]),
        ("otlp,console", ["otlp", "console"]),
        (" Console , OTLP ,", ["console", "otlp"]),
        ("otlp,otlp", ["otlp"]),  # twice would export every span twice to the same place
    ],
)
def test_a_list_names_each_exporter_once_in_order(value: str, names: list[str]) -> None:
    assert exporter_names(value) == names


@pytest.mark.parametrize("value", ["none", " NONE ", "none,none"])
def test_none_alone_means_no_exporter(value: str) -> None:
    assert exporter_names(value) == []


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("zipkin", r"\(zipkin\)"),
        ("otlp,zipkin,jaeger", r"\(zipkin, jaeger\)"),
        ("otlp,none", r"none means no exporter"),
    ],
)
def test_an_unknown_name_or_none_with_others_is_refused(value: str, named: str) -> None:
    with pytest.raises(ValueError, match=rf"OTEL_TRACES_EXPORTER='{value}'.*{named}"):
        exporter_names(value)


def test_each_name_gets_its_own_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp,console")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    otlp, console = telemetry._exporters(telemetry.exporter_names("otlp,console"), None)
    assert isinstance(otlp, BufferedExporter) and isinstance(otlp.inner, OTLPSpanExporter)
    assert isinstance(console, ConsoleSpanExporter)  # not buffered: it writes to stdout, which is never away


def test_a_service_exporting_to_otlp_and_console_sends_each_span_to_both(spawn: Spawn, traces: Traces) -> None:
    service = spawn("inventory", OTEL_TRACES_EXPORTER="otlp,console", OTEL_SERVICE_NAME="inventory-two-exporters")
    response = httpx.get(f"{service.url}/stock/item-123", timeout=10)
    assert response.status_code == 200
    trace_id = traces.get(response, until=lambda t: bool(t.find(kind="server"))).trace_id
    service.terminate()  # the console exporter's batch is flushed by the shutdown at the latest
    assert f'"trace_id": "0x{trace_id}"' in service.stdout_path.read_text()


def test_an_unknown_exporter_stops_the_service_at_start_up_with_a_clear_error(spawn: Spawn) -> None:
    with pytest.raises(RuntimeError, match=r"OTEL_TRACES_EXPORTER='otlp,zipkin' names an exporter this kit does not have"):
        spawn("inventory", OTEL_TRACES_EXPORTER="otlp,zipkin")
