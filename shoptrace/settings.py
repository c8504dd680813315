"""The kit's own settings, the same for every service: read once, at start-up, by shoptrace.server.main.

Each service's settings are its own (``checkout/config.py``, ``inventory/config.py``);
the OpenTelemetry SDK reads the ``OTEL_*`` variables itself. A frozen dataclass
with ``from_env`` rather than pydantic-settings: five variables, each parsed
in one line, do not pay for another dependency in the services' image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shoptrace.journal_file import MAX_DATA_BYTES
from shoptrace.logs import DEFAULT_SPAN_EVENT_LEVEL
from shoptrace.services import Service

#: Where the Jaeger UI is when JAEGER_UI_URL is not set: the compose stack's, from the host.
DEFAULT_JAEGER_UI_URL = "http://localhost:16686"
#: Where each process keeps its span journal (shoptrace.span_journal) when SPAN_JOURNAL_DIR is not set:
#: relative to the working directory, beside inventory's default database. Containers set it to a volume.
DEFAULT_SPAN_JOURNAL_DIR = "data/journal"
#: The span journal's ring, per process, when SPAN_JOURNAL_MB is not set: room for nearly three times the spans
#: the default span buffer holds while the Collector is away (8,192), at what a span takes in the ring
#: (its start and its end records, bench/results/span-cost.json): what the buffer keeps, a crash does not take.
DEFAULT_SPAN_JOURNAL_MB = 16.0


@dataclass(frozen=True)
class KitSettings:
    #: SHOPTRACE_HOST: the listening address (0.0.0.0 in containers).
    host: str
    #: The service's port variable (CHECKOUT_PORT...), else its default port.
    port: int
    #: JAEGER_UI_URL: the base of the ``trace_url`` in every error body.
    jaeger_ui_url: str
    #: LOG_LEVEL and LOG_SPAN_EVENT_LEVEL (shoptrace.logs checks their values).
    log_level: str
    log_span_event_level: str

    @classmethod
    def from_env(cls, service: Service) -> KitSettings:
        port_text = os.environ.get(service.port_variable, str(service.default_port))
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"{service.port_variable}={port_text!r} is not a port number") from None
        if not 0 < port < 65536:
            raise ValueError(f"{service.port_variable}={port} is not a port number")
        return cls(
            host=os.environ.get("SHOPTRACE_HOST", "127.0.0.1"),
            port=port,
            jaeger_ui_url=os.environ.get("JAEGER_UI_URL", DEFAULT_JAEGER_UI_URL).rstrip("/"),
            log_level=os.environ.get("LOG_LEVEL", "info"),
            log_span_event_level=os.environ.get("LOG_SPAN_EVENT_LEVEL", DEFAULT_SPAN_EVENT_LEVEL),
        )


@dataclass(frozen=True)
class JournalSettings:
    """The span journal's settings (shoptrace.span_journal), read once at start-up by shoptrace.telemetry.setup."""

    #: SPAN_JOURNAL_DIR: where this process's journal is; on a volume that outlives the container.
    directory: Path
    #: SPAN_JOURNAL_MB: the journal's size budget in MB; 0 turns the journal off.
    budget_mb: float

    @property
    def enabled(self) -> bool:
        return self.budget_mb > 0

    @property
    def budget_bytes(self) -> int:
        return int(self.budget_mb * 1024 * 1024)

    @classmethod
    def from_env(cls) -> JournalSettings:
        text = os.environ.get("SPAN_JOURNAL_MB", "").strip()
        try:
            budget = float(text) if text else DEFAULT_SPAN_JOURNAL_MB
        except ValueError:
            raise ValueError(f"SPAN_JOURNAL_MB={text!r} is not a number of megabytes (0 turns the journal off)") from None
        if not 0 <= budget * 1024 * 1024 <= MAX_DATA_BYTES:  # NaN and infinity too
            raise ValueError(
                f"SPAN_JOURNAL_MB={text!r} is not between 0 (the journal off) and {MAX_DATA_BYTES // 2**20} megabytes"
            )
        return cls(directory=Path(os.environ.get("SPAN_JOURNAL_DIR") or DEFAULT_SPAN_JOURNAL_DIR), budget_mb=budget)
