"""The services as the tests run them: real processes (harness.processes), exporting to the tests' sink.

Processes rather than in-process ASGI apps, because what the tests prove
lives at the process edges: uvicorn's signal handling and graceful shutdown,
a client that disconnects, spans flushed by the real exporter, and stdout
holding nothing but JSON lines.
"""

from __future__ import annotations

from typing import Any, Protocol

from harness.processes import ROOT, ServiceProcess, free_port, parse_log_lines

__all__ = ["ROOT", "TEST_JAEGER_UI_URL", "ServiceProcess", "ServiceUnderTest", "free_port", "parse_log_lines", "service_env"]

TEST_JAEGER_UI_URL = "http://jaeger.test:16686"


class ServiceUnderTest(Protocol):
    """A running service as the tests see it: a process here, a container in tests/e2e."""

    @property
    def url(self) -> str: ...

    def logs_of(self, trace_id: str) -> list[dict[str, Any]]: ...

    def stderr_text(self) -> str: ...


def service_env(sink_endpoint: str, **extra: str) -> dict[str, str]:
    """The environment every test service gets: export to the test's sink, fast."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink_endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        "JAEGER_UI_URL": TEST_JAEGER_UI_URL,
        **extra,
    }
