"""The kit's own settings, the same for every service: read once, at start-up, by shoptrace.server.main.

Each service's settings are its own (``checkout/config.py``, ``inventory/config.py``);
the OpenTelemetry SDK reads the ``OTEL_*`` variables itself. A frozen dataclass
with ``from_env`` rather than pydantic-settings: five variables, each parsed
in one line, do not pay for another dependency in the services' image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from shoptrace.logs import DEFAULT_SPAN_EVENT_LEVEL
from shoptrace.services import Service

#: Where the Jaeger UI is when JAEGER_UI_URL is not set: the compose stack's, from the host.
DEFAULT_JAEGER_UI_URL = "http://localhost:16686"


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
