"""How the kit wires an app, in process: the public-endpoint wrap, trace links per app, the zero-code agent.

tests/test_trust.py checks the public endpoint end to end, in a real checkout;
here the app is called through httpx's ASGITransport, so the order of the
layers is seen directly: the caller's headers must be gone before the SERVER
span is made.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry import baggage, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from starlette.types import ASGIApp

from shoptrace import errors
from shoptrace.server import new_app
from shoptrace.settings import DEFAULT_JAEGER_UI_URL
from shoptrace.telemetry import Telemetry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def telemetry(exporter: InMemorySpanExporter) -> Iterator[Telemetry]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Telemetry(service_name="wiring", provider=provider)
    provider.shutdown()


@asynccontextmanager
async def no_resources(app: FastAPI) -> AsyncIterator[None]:
    yield


def app_with_a_probe(telemetry: Telemetry) -> FastAPI:
    """An app of the kit with one route that says what trace and baggage it runs in."""
    app = new_app("wiring", telemetry, no_resources)

    @app.get("/seen")
    async def seen(request: Request) -> dict[str, object]:
        context = trace.get_current_span().get_span_context()
        return {"trace_id": f"{context.trace_id:032x}", "baggage": dict(baggage.get_all())}

    return app


def call(app: ASGIApp, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://wiring") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(get())


def caller() -> tuple[str, str, dict[str, str]]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-01", "baggage": "user.id=alice"}


def test_served_for_untrusted_callers_the_server_span_starts_a_new_trace_linked_to_the_callers(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    trace_id, span_id, headers = caller()
    answer = call(telemetry.for_untrusted_callers(app_with_a_probe(telemetry)), "/seen", headers).json()
    assert answer["trace_id"] != trace_id and answer["baggage"] == {}
    (server,) = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER]
    assert server.parent is None
    assert [(f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}") for link in server.links] == [(trace_id, span_id)]


def test_served_as_it_is_the_callers_trace_and_baggage_are_continued(
    telemetry: Telemetry, exporter: InMemorySpanExporter
) -> None:
    trace_id, _, headers = caller()
    answer = call(app_with_a_probe(telemetry), "/seen", headers).json()
    assert answer == {"trace_id": trace_id, "baggage": {"user.id": "alice"}}


def test_with_tracing_off_the_app_is_served_unwrapped() -> None:
    off = Telemetry(service_name="wiring", provider=None)
    app = app_with_a_probe(off)
    assert off.for_untrusted_callers(app) is app


def test_each_app_links_its_errors_to_its_own_jaeger_ui(telemetry: Telemetry) -> None:
    linked, unlinked = app_with_a_probe(telemetry), app_with_a_probe(telemetry)
    errors.link_traces_to(linked, "http://jaeger.example:16686/")
    for app, base in ((linked, "http://jaeger.example:16686"), (unlinked, DEFAULT_JAEGER_UI_URL)):
        body = call(app, "/no-such-page").json()
        assert body["error"] == "not_found" and body["trace_url"] == f"{base}/trace/{body['trace_id']}"


SETUP_PROBE = "from shoptrace import telemetry; print(telemetry.setup('zero-code-probe').enabled)"


@pytest.mark.parametrize("agent", [False, True], ids=["plain", "opentelemetry-instrument"])
def test_the_kit_stands_aside_under_the_zero_code_agent(agent: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    command = [sys.executable, "-c", SETUP_PROBE]
    if agent:
        command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), *command]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(not agent)
