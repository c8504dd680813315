"""Trace-aware JSON logging: every line on stdout is one JSON object with the trace id.

The trace and span ids are read from the OpenTelemetry context at the moment
a line is logged, in the same lowercase hex that Jaeger shows, so a trace id
copied from Jaeger (or from an error body, or a ``traceresponse`` header)
finds every line of that request in both services. Outside a request both
are null.

Warnings and errors logged inside a request are also copied onto the current
span as events (what HotROD's span logger does), so the Jaeger UI shows them
under the span they happened in: ``LOG_SPAN_EVENT_LEVEL`` (debug ... critical,
or ``off``) sets the lowest level copied, ``warning`` by default.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span
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


def _exception_recorded(span: Span, exc: BaseException) -> bool:
    """Whether ``span`` already has an ``exception`` event for ``exc`` (the SDK's spans list their events)."""
    message = str(exc)
    type_name = type(exc).__qualname__
    for event in getattr(span, "events", ()):
        attributes = event.attributes or {}
        if (
            event.name == "exception"
            and attributes.get("exception.message") == message
            and str(attributes.get("exception.type", "")).endswith(type_name)
        ):
            return True
    return False


class SpanEventHandler(logging.Handler):
    """Copies each line at or above its level onto the current span as an event named by the message.

    A line logged with an exception records that exception on the span too,
    unless the span already has it (the error middleware records what it
    catches before logging it): an exception is never on one span twice.
    """

    def emit(self, record: logging.LogRecord) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        try:
            exc = record.exc_info[1] if record.exc_info else None
            if exc is not None and not _exception_recorded(span, exc):
                span.record_exception(exc)
            span.add_event(record.getMessage(), {"log.severity": record.levelname.lower(), "log.logger": record.name})
        except Exception:  # a log line must never break the request that logs it
            self.handleError(record)


#: LOG_SPAN_EVENT_LEVEL's default; ``off`` copies nothing.
DEFAULT_SPAN_EVENT_LEVEL = "warning"


def _level(name: str, variable: str) -> int:
    level = logging.getLevelName(name.strip().upper())
    if not isinstance(level, int):
        raise ValueError(f"{variable}={name!r} is not a level: use debug, info, warning, error or critical")
    return level


#: The fields every line starts with, in this order; extras passed with ``extra=`` follow.
_LEADING_FIELDS = ("time", "level", "service", "logger", "message", "trace_id", "span_id")


class _Formatter(JsonFormatter):
    """Names and orders the fields as the services' log contract does (``time``, ``level``...)."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        fields: dict[str, Any] = {}
        super().add_fields(fields, record, message_dict)
        fields["level"] = record.levelname.lower()
        for name in _LEADING_FIELDS:
            log_data[name] = fields.pop(name, None)
        log_data.update(fields)


def configure(service: str, level: str | None = None, span_event_level: str | None = None) -> None:
    """Send all logging, ours and uvicorn's, to stdout as JSON lines, and copy warnings onto spans.

    ``level`` (LOG_LEVEL: debug, info, warning, error, critical) sets the level, info by default;
    ``span_event_level`` (LOG_SPAN_EVENT_LEVEL) the lowest level copied onto the current
    span, warning by default, or ``off``. shoptrace.settings reads both at start-up.
    """
    span_event_level = span_event_level or DEFAULT_SPAN_EVENT_LEVEL
    level_no = _level(level or "info", "LOG_LEVEL")
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
    if span_event_level.strip().lower() != "off":
        span_events = SpanEventHandler(_level(span_event_level, "LOG_SPAN_EVENT_LEVEL"))
        root.handlers.append(span_events)
    root.setLevel(level_no)
    # httpx logs every request at info: the CLIENT spans already record them.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The baggage propagator logs rejected headers whole: untrusted input (and
    # possibly personal data) that has no place in our logs.
    logging.getLogger("opentelemetry.baggage.propagation").setLevel(logging.ERROR)
    # The same for the API's tracestate parser, which runs before ours (shoptrace.propagation)
    # and warns with the rejected member in the message.
    logging.getLogger("opentelemetry.trace.span").setLevel(logging.ERROR)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True
