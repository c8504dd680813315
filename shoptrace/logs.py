"""Trace-aware JSON logging: every line on stdout is one JSON object with the trace id.

The trace and span ids are read from the OpenTelemetry context at the moment
a line is logged, in the same lowercase hex that Jaeger shows, so a trace id
copied from Jaeger (or from an error body, or a ``traceresponse`` header)
finds every line of that request in both services. Outside a request both
are null.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

#: uvicorn's own loggers; routed through our handler so stdout stays JSON only.
#: Its access log is off (see shoptrace.server): the SERVER span records every request.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def current_ids() -> tuple[str | None, str | None]:
    """The (trace_id, span_id) of the current span as lowercase hex, or (None, None)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return trace.format_trace_id(ctx.trace_id), trace.format_span_id(ctx.span_id)


class TraceContextFilter(logging.Filter):
    """Adds ``service``, ``trace_id`` and ``span_id`` to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.trace_id, record.span_id = current_ids()
        return True


#: The fields every line starts with, in this order; extras passed with ``extra=`` follow.
_LEADING_FIELDS = ("time", "level", "service", "logger", "message", "trace_id", "span_id")


class _Formatter(JsonFormatter):
    """Names and orders the fields as the services' log contract does (``time``, ``level``...)."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        fields: dict[str, Any] = {}
        super().add_fields(fields, record, message_dict)
        fields["level"] = record.levelname.lower()
        for name in _LEADING_FIELDS:
            log_data[name] = fields.pop(name, None)
        log_data.update(fields)


def configure(service: str, level: str | None = None) -> None:
    """Send all logging, ours and uvicorn's, to stdout as JSON lines.

    ``LOG_LEVEL`` (debug, info, warning, error, critical) sets the level, info by default.
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(TraceContextFilter(service))
    handler.setFormatter(
        _Formatter(
            ["message", "name", "trace_id", "span_id", "service"],
            rename_fields={"name": "logger", "exc_info": "exception"},
            # uvicorn adds an ANSI-coloured copy of some messages: not for JSON.
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
            timestamp="time",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("LOG_LEVEL", "info")).upper())
    # httpx logs every request at info: the CLIENT spans already record them.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The baggage propagator logs rejected headers whole: untrusted input (and
    # possibly personal data) that has no place in our logs.
    logging.getLogger("opentelemetry.baggage.propagation").setLevel(logging.ERROR)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
