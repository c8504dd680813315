"""All OpenTelemetry setup for both services, in one place.

Each service calls :func:`setup` once at start-up and gets a :class:`Telemetry`
that instruments its FastAPI app and its httpx client, and that it shuts down
(with a bound) when its lifespan ends. Everything is read from the standard
``OTEL_*`` environment variables; the few defaults we choose differently from
the SDK are written down next to the code that sets them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import asgi_getter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.propagators import (
    TraceResponsePropagator,
    set_global_response_propagator,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span, SpanContext
from starlette.types import ASGIApp, Receive, Scope, Send

from shoptrace import otel_internals, propagation
from shoptrace.journal_startup import Opened, open_journal
from shoptrace.settings import JournalSettings
from shoptrace.span_buffer import BufferedExporter
from shoptrace.span_journal import SpanJournal

log = logging.getLogger(__name__)

#: Health probes are polled every few seconds by Docker and by people; a span
#: for each would bury the traces that matter.
UNTRACED_PATHS = "/healthz,/readyz"

#: The SDK waits 5 s before exporting a batch; a person who just curled a
#: failing request would wait that long for the trace. 200 ms keeps batches
#: large under load and makes a trace visible almost at once. Set
#: OTEL_BSP_SCHEDULE_DELAY to override.
DEFAULT_SCHEDULE_DELAY_MS = 200

#: The SDK keeps at most 2048 finished spans between two exports and drops the
#: rest. The span buffer takes each batch at once, so this queue only ever holds
#: a burst between two exports; four times the SDK's leaves room for a burst
#: without a drop. Set OTEL_BSP_MAX_QUEUE_SIZE to override.
DEFAULT_MAX_QUEUE_SIZE = 8192

#: What the span buffer may hold while the Collector is away (shoptrace.span_buffer),
#: in MB; SPAN_BUFFER_MB to change it. How long an outage that rides out under
#: load is in docs/reliability.md.
DEFAULT_SPAN_BUFFER_MB = 32.0
#: What one finished span costs in memory, rounded up: 3.2 KB measured for a
#: SERVER span with the HTTP attributes and an event, and its CLIENT child
#: (bench/span_cost.py, bench/results/span-cost.json).
SPAN_COST_BYTES = 4096

#: Upper bound for flushing and shutting down at exit. uvicorn gives the
#: lifespan no deadline of its own, and the SDK's shutdown waits up to 30 s
#: when the Collector is unreachable; 10 s is what an orchestrator allows
#: between SIGTERM and SIGKILL, so stay well below it.
SHUTDOWN_TIMEOUT_S = 4.0


#: The signals whose stable conventions the kit's spans carry (OTEL_SEMCONV_STABILITY_OPT_IN's names).
STABLE_SEMCONV_SIGNALS = ("http", "database")


def semconv_opt_in(user_value: str | None) -> str:
    """OTEL_SEMCONV_STABILITY_OPT_IN as the kit runs with it: the user's list, plus the stable conventions.

    The contrib instrumentations still default to the old attribute names
    (``http.status_code``, ``db.statement``...); the stable ones are what
    Jaeger, the Collector and the semantic conventions document. The variable
    is a comma-separated list read per signal: ``http`` emits the stable HTTP
    attributes only, ``http/dup`` the stable and the old ones side by side (and
    wins when both are listed), neither leaves the old ones; ``database`` and
    ``database/dup`` likewise. So a user's list is kept as written, and for each
    of the kit's signals that it names in neither form, the stable-only form is
    added: a user who chose ``/dup`` (to keep old dashboards working while
    moving) keeps it, and both choices give the stable names the kit relies on.
    """
    entries = [entry.strip() for entry in (user_value or "").split(",") if entry.strip()]
    for signal in STABLE_SEMCONV_SIGNALS:
        if signal not in entries and f"{signal}/dup" not in entries:
            entries.append(signal)
    return ",".join(entries)


def _resource(default_service_name: str) -> Resource:
    """Resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, with a default name.

    ``Resource.create({"service.name": ...})`` would override the environment,
    so the default is applied only when the environment names no service.
    """
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
    return resource


def service_name(default_service_name: str) -> str:
    """The name this process's spans will carry (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, else the default).

    Logging is configured with it before :func:`setup`, whose own start-up
    (the span journal's recovery) logs.
    """
    return str(_resource(default_service_name).attributes[SERVICE_NAME])


#: OTEL_TRACES_EXPORTER's names the kit can build an exporter for.
KNOWN_EXPORTERS = ("otlp", "console")


def exporter_names(value: str | None) -> list[str]:
    """The exporters OTEL_TRACES_EXPORTER names, each once, in the order given.

    The spec allows a comma-separated list, one exporter per entry
    (``otlp,console``); unset or empty means ``otlp``. ``none`` on its own means
    no exporter: spans are still made (trace ids, ``traceresponse``, propagation)
    but sent nowhere. An unknown name, or ``none`` beside another, stops the
    service at start-up with a ValueError naming it, rather than losing spans unnoticed.
    """
    names = list(dict.fromkeys(name.strip().lower() for name in (value or "").split(",") if name.strip()))
    if not names:
        return ["otlp"]
    if names == ["none"]:
        return []
    if "none" in names:
        raise ValueError(f"OTEL_TRACES_EXPORTER={value!r}: none means no exporter, so it cannot be listed with others")
    refused = [name for name in names if name not in KNOWN_EXPORTERS]
    if refused:
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={value!r} names an exporter this kit does not have ({', '.join(refused)}): "
            "use otlp, console, both (otlp,console), or none on its own"
        )
    return names


def _exporters(names: list[str], journal: SpanJournal | None) -> list[SpanExporter]:
    """One exporter for each of ``names`` (:func:`exporter_names`); OTLP's is buffered, telling ``journal`` what it delivered."""
    return [
        BufferedExporter(
            _otlp_exporter(),
            span_buffer_spans(os.environ.get("SPAN_BUFFER_MB")),
            on_delivered=None if journal is None else journal.delivered,
        )
        if name == "otlp"
        else ConsoleSpanExporter()
        for name in names
    ]


def _send_owed(spans: list[ReadableSpan], exporters: list[SpanExporter], batchers: list[BatchSpanProcessor]) -> None:
    """What the previous run ended and never delivered, and what its death cut short, each with the resource it was
    made under: straight into a span buffer, as it has room (a thread: a ring may owe more spans than a buffer or a
    batch processor's queue holds, and those would drop them), through the batch processor to any other exporter."""
    for exporter, batcher in zip(exporters, batchers, strict=True):
        if isinstance(exporter, BufferedExporter):
            threading.Thread(target=exporter.take_when_room, args=(spans,), name="span-journal-owed", daemon=True).start()
        else:
            for span in spans:
                batcher.on_end(span)


def _journal(names: list[str], service_name: str, resource: Resource) -> Opened | None:
    """This process's span journal (shoptrace.span_journal), if it is on and there is a Collector to deliver to.

    Without OTLP there is no "delivered" to record, so nothing to journal.
    """
    settings = JournalSettings.from_env()
    if not settings.enabled or "otlp" not in names:
        return None
    return open_journal(settings.directory, service_name, settings.budget_bytes, resource)


def span_buffer_spans(megabytes: str | None) -> int:
    """How many spans SPAN_BUFFER_MB (default :data:`DEFAULT_SPAN_BUFFER_MB`) holds, at :data:`SPAN_COST_BYTES` each."""
    try:
        budget = float(megabytes) if megabytes else DEFAULT_SPAN_BUFFER_MB
    except ValueError:
        raise ValueError(f"SPAN_BUFFER_MB={megabytes!r} is not a number of megabytes") from None
    spans = int(budget * 1024 * 1024 // SPAN_COST_BYTES)
    if spans < 1:
        raise ValueError(f"SPAN_BUFFER_MB={megabytes!r} holds no span: one costs about {SPAN_COST_BYTES} bytes")
    return spans


def _otlp_exporter() -> SpanExporter:
    """OTLP over the protocol OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL chooses: http/protobuf (the default) or grpc.

    Endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_*,
    read by the exporter itself.
    """
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf or grpc")


def _sdk_disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _traced_by_zero_code() -> bool:
    """Whether ``opentelemetry-instrument`` has already instrumented this process.

    It installs its own tracer provider and instruments FastAPI and httpx
    (and sqlite3) process-wide before our code runs; instrumenting again on
    top would nest duplicate CLIENT and database spans under a second
    provider. So the question asked is the instrumentations' own
    (``BaseInstrumentor.is_instrumented_by_opentelemetry``, public): has either
    of the two the kit installs been switched on for the whole process?
    ``make bench`` runs the services this way as the zero-code reference.
    The agent run with both of those instrumentations disabled is not
    detected: the kit then sets up its own provider, the SDK refuses to
    replace the agent's global one (and logs it), so spans made through the
    global API go to the agent's provider, the instrumentations' to the kit's.
    """
    return bool(
        FastAPIInstrumentor().is_instrumented_by_opentelemetry or HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    )


@dataclass
class Telemetry:
    """The tracing of one process: its provider.

    None when OTEL_SDK_DISABLED=true, and under ``opentelemetry-instrument``,
    whose own provider and instrumentations then do all the tracing.
    """

    service_name: str
    provider: TracerProvider | None
    #: The exporters behind the provider's batch processors (a BatchSpanProcessor's flush stops at its exporter).
    exporters: tuple[SpanExporter, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def force_flush(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> bool:
        """Whether every span ended so far reached the Collector (or the console) within ``timeout_s``."""
        if self.provider is None:
            return True
        deadline = time.monotonic() + timeout_s
        if not self.provider.force_flush(round(timeout_s * 1000)):
            return False
        return all(e.force_flush(max(0, round((deadline - time.monotonic()) * 1000))) for e in self.exporters)

    def instrument_app(self, app: FastAPI) -> None:
        """Make the SERVER span of every request except the health probes.

        We use the contrib instrumentation, not FastAPI's own tracing (FastAPI
        >= 0.165 switches its own on when an SDK provider exists): the contrib
        one is the one the OpenTelemetry docs and Go's otelhttp mirror, it can
        exclude URLs and the internal ``http send``/``http receive`` spans, and
        it honours the response propagator. The app must be created with
        ``telemetry={"tracing": False, ...}`` (see :data:`FASTAPI_NATIVE_OFF`)
        so exactly one layer traces.
        """
        if not self.enabled:
            return
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
            server_request_hook=_on_server_span,
        )

    def for_untrusted_callers(self, app: ASGIApp) -> ASGIApp:
        """``app`` as served to callers whose trace context and baggage are not trusted (a public endpoint).

        Each request starts a new trace whose SERVER span links to the caller's
        span instead of continuing it (Go's otelhttp.WithPublicEndpoint): the
        returned app sets the caller's trace headers aside before ``app`` (and
        the instrumentation's middleware in it) sees the request. Wrap the
        whole app, as it is handed to the server (shoptrace.server.main does):
        the FastAPI instrumentation puts its middleware outside every
        middleware the app adds itself, so nothing inside the app runs before it.
        Tracing off (or done by ``opentelemetry-instrument``): ``app`` unchanged.
        """
        if not self.enabled:
            return app
        return _UntrustedCallerMiddleware(app)

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        """Make a CLIENT span per request of this one client and inject ``traceparent``.

        Only this client is instrumented: calling ``HTTPXClientInstrumentor().instrument()``
        as well would wrap it twice and nest duplicate CLIENT spans.
        """
        if not self.enabled:
            return
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def shutdown(self, timeout_s: float = SHUTDOWN_TIMEOUT_S) -> None:
        """Export what is queued and stop, within ``timeout_s`` even if the Collector is gone.

        Called from the lifespan, not left to the SDK's atexit hook: uvicorn
        re-raises SIGTERM after its graceful shutdown, so atexit never runs.
        ``TracerProvider.shutdown`` has no deadline of its own, hence the thread.
        """
        if self.provider is None:
            return
        provider = self.provider
        worker = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
        worker.start()
        worker.join(timeout_s)
        if worker.is_alive():
            log.warning(
                "span export did not finish within %.1f s at shutdown; queued spans may be lost (with the span "
                "journal on, what its ring holds of them is sent at the next start)",
                timeout_s,
            )


#: Where _UntrustedCallerMiddleware leaves the caller's span context for _link_to_caller.
_CALLER_KEY = "shoptrace.caller_span_context"
_TRACE_HEADERS = (b"traceparent", b"tracestate", b"baggage")


class _UntrustedCallerMiddleware:
    """Removes the caller's trace headers from the request, keeping its span context aside.

    Made by :meth:`Telemetry.for_untrusted_callers`, around the whole app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            carrier: dict[str, Any] = dict(scope)  # asgi_getter reads a dict; scope is a MutableMapping
            caller = trace.get_current_span(propagate.extract(carrier, getter=asgi_getter)).get_span_context()
            scope = dict(scope)
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() not in _TRACE_HEADERS]
            if caller.is_valid:
                scope[_CALLER_KEY] = caller
        await self.app(scope, receive, send)


def _on_server_span(span: Span, scope: dict[str, object]) -> None:
    """Runs as each SERVER span starts: redact the query, link an untrusted caller."""
    if not span.is_recording():
        return
    query = scope.get("query_string")
    if isinstance(query, bytes) and query:
        # Query values are whatever callers put there, e-mail addresses and tokens
        # included; their names are enough to debug with.
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        span.set_attribute("url.query", "&".join(f"{name}=REDACTED" for name, _ in pairs))
    caller = scope.get(_CALLER_KEY)
    if isinstance(caller, SpanContext):
        span.add_link(caller, {"shoptrace.link": "untrusted caller"})


#: Pass as ``FastAPI(telemetry=FASTAPI_NATIVE_OFF)``: see :meth:`Telemetry.instrument_app`.
FASTAPI_NATIVE_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def setup(default_service_name: str) -> Telemetry:
    """Create this process's tracer provider from the environment and make it global.

    Returns a disabled :class:`Telemetry` when OTEL_SDK_DISABLED=true: no spans,
    no ``traceparent`` injected, no ``traceresponse`` header, trace ids null.
    """
    resource = _resource(default_service_name)
    service_name = str(resource.attributes[SERVICE_NAME])
    if _sdk_disabled() or _traced_by_zero_code():
        return Telemetry(service_name=service_name, provider=None)

    # The instrumentations read this variable only from the environment, once, when the first
    # one runs (no argument takes it): set here, at start-up, before any of them (shoptrace.otel_internals).
    otel_internals.opt_in_to_stable_semconv(semconv_opt_in(os.environ.get(otel_internals.SEMCONV_OPT_IN_VARIABLE)))
    # The sampler comes from OTEL_TRACES_SAMPLER(_ARG); parentbased_always_on by default.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    names = exporter_names(os.environ.get("OTEL_TRACES_EXPORTER"))
    # First on the provider, so each span's start is in the journal before anything else runs for it,
    # and its end before the batch processor can hand it on.
    opened = _journal(names, service_name, resource)
    if opened is not None:
        provider.add_span_processor(opened.journal)
    schedule_delay = None if "OTEL_BSP_SCHEDULE_DELAY" in os.environ else DEFAULT_SCHEDULE_DELAY_MS
    max_queue_size = None if "OTEL_BSP_MAX_QUEUE_SIZE" in os.environ else DEFAULT_MAX_QUEUE_SIZE
    exporters = _exporters(names, None if opened is None else opened.journal)
    batchers = [
        BatchSpanProcessor(exporter, schedule_delay_millis=schedule_delay, max_queue_size=max_queue_size)
        for exporter in exporters
    ]
    for batcher in batchers:
        provider.add_span_processor(batcher)
    if opened is not None and opened.recovered.spans:
        _send_owed(opened.recovered.spans, exporters, batchers)
    trace.set_tracer_provider(provider)
    propagation.install()
    # Every traced response says which trace it belongs to: a curl shows the id to open.
    set_global_response_propagator(TraceResponsePropagator())  # type: ignore[no-untyped-call]  # contrib has no hints
    return Telemetry(service_name=service_name, provider=provider, exporters=tuple(exporters))
