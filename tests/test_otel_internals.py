"""The assumptions shoptrace.otel_internals makes about OpenTelemetry's packages, checked against the installed ones.

Each test names the assumption of one section of that module. When an upgrade
changes one, the test fails here, saying which; the message says whether the
fence must be rewritten (what it relies on is gone) or can go (what it works
around is fixed upstream).
"""

from __future__ import annotations

import gc
import json
import logging
import marshal
import os
import socket
import subprocess
import sys
import textwrap
import weakref
from collections import deque
from collections.abc import Iterator
from types import MappingProxyType

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, TracerProvider
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shoptrace.otel_internals import attribute_dict, events_and_links, export_and_let_go, unchecked_trace_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# -- 1. TraceState ------------------------------------------------------------------------

#: Keys of the current W3C grammar that the API (1.45.1) drops.
CURRENT_GRAMMAR_KEYS = ["t@" + "v" * 15, "two@@signs", "trailing@"]


@pytest.mark.parametrize("key", CURRENT_GRAMMAR_KEYS)
def test_the_api_still_drops_keys_the_current_grammar_allows(key: str) -> None:
    # When this fails, the API accepts the current grammar: unchecked_trace_state can go, and
    # parse_tracestate can build TraceState(members).
    logging.getLogger("opentelemetry.trace.span").disabled = True
    try:
        assert key not in TraceState([(key, "1")])
        assert key not in TraceState().add(key, "1")
    finally:
        logging.getLogger("opentelemetry.trace.span").disabled = False


def test_the_api_keeps_a_trace_states_members_in_its_dict() -> None:
    # When this fails, unchecked_trace_state writes where the API no longer reads: rewrite it.
    state = TraceState([("a", "1")])
    assert isinstance(vars(state).get("_dict"), dict) and vars(state)["_dict"] == {"a": "1"}


def test_an_unchecked_trace_state_is_read_and_injected_by_the_apis_own_methods() -> None:
    members = [("first", "1"), *((key, str(i)) for i, key in enumerate(CURRENT_GRAMMAR_KEYS)), ("last", "9")]
    state = unchecked_trace_state(members)
    assert list(state.items()) == members and len(state) == len(members)
    assert all(key in state and state[key] == value for key, value in members)
    assert state.to_header() == ",".join(f"{key}={value}" for key, value in members)

    parent = SpanContext(trace_id=1, span_id=2, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, trace.set_span_in_context(NonRecordingSpan(parent)))
    assert carrier["tracestate"] == state.to_header()


# -- 2. OTEL_SEMCONV_STABILITY_OPT_IN ---------------------------------------------------------

#: Run in a fresh process: the instrumentations read the variable once per process.
SEMCONV_PROBE = textwrap.dedent(
    """
    import json
    from opentelemetry.instrumentation._semconv import (
        _OpenTelemetrySemanticConventionStability as Stability,
        _OpenTelemetryStabilitySignalType as Signal,
    )
    from shoptrace import otel_internals, server, telemetry  # imports every instrumentation the kit uses
    read_at_import = Stability._initialized
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        yield

    tracing = telemetry.setup("semconv-probe")  # sets the variable, then the app is instrumented
    server.new_app("semconv-probe", tracing, lifespan)
    modes = [Stability._get_opentelemetry_stability_opt_in_mode(s).value for s in (Signal.HTTP, Signal.DATABASE)]
    otel_internals.opt_in_to_stable_semconv("")  # too late: read once, already
    server.new_app("semconv-probe-2", tracing, lifespan)
    again = [Stability._get_opentelemetry_stability_opt_in_mode(s).value for s in (Signal.HTTP, Signal.DATABASE)]
    print(json.dumps({"read_at_import": read_at_import, "modes": modes, "again": again}))
    """
)


def semconv_probe(user_value: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(OTEL_TRACES_EXPORTER="none")
    if user_value is not None:
        env["OTEL_SEMCONV_STABILITY_OPT_IN"] = user_value
    done = subprocess.run(
        [sys.executable, "-c", SEMCONV_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("user_value", "modes"),
    [(None, ["http", "database"]), ("http/dup", ["http/dup", "database"]), ("database/dup", ["http", "database/dup"])],
)
def test_the_instrumentations_read_the_variable_once_when_the_first_one_runs_not_at_import(
    user_value: str | None, modes: list[str]
) -> None:
    # When this fails, the instrumentations read the choice some other way or at another time:
    # opt_in_to_stable_semconv (and where telemetry.setup calls it) must follow.
    probe = semconv_probe(user_value)
    assert probe["read_at_import"] is False, "importing an instrumentation read OTEL_SEMCONV_STABILITY_OPT_IN"
    assert probe["modes"] == modes
    assert probe["again"] == modes, "the variable was read again after the first instrumentation"


# -- 3. A failed OTLP/HTTP export keeps its batch ---------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def failing_otlp() -> Iterator[object]:
    """The real OTLP/HTTP exporter, to a port nothing listens on, with the automatic collector off."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{closed_port()}/v1/traces", timeout=1)
    # A handler that keeps log records (pytest's does) would keep a logged exception, and the
    # batch through it: no records at all.
    exporter_log = logging.getLogger("opentelemetry.exporter.otlp")
    level = exporter_log.level
    exporter_log.setLevel(logging.CRITICAL)
    gc.disable()
    try:
        yield exporter
    finally:
        gc.enable()
        exporter_log.setLevel(level)
        exporter.shutdown()


def one_span() -> ReadableSpan:
    span = TracerProvider().get_tracer("test").start_span("dropped")
    span.end()
    return span  # type: ignore[return-value]  # the SDK's spans are ReadableSpans


def test_a_failed_try_of_the_otlp_exporter_still_keeps_the_batch_it_was_given(failing_otlp: object) -> None:
    # When this fails, the exporter no longer keeps a failed try's batch alive: export_and_let_go
    # is not needed any more (the span buffer can call inner.export(batch)).
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert isinstance(failing_otlp, OTLPSpanExporter)
    batch = [one_span()]
    span = weakref.ref(batch[0])
    assert failing_otlp.export(batch) is SpanExportResult.FAILURE
    del batch
    assert span() is not None, "the exporter no longer keeps a failed batch: export_and_let_go can go"
    gc.collect()
    assert span() is None


def test_export_and_let_go_leaves_a_failed_try_nothing_that_holds_the_spans(failing_otlp: object) -> None:
    # When this fails, the exporter keeps the spans some other way than through the sequence it was given.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert isinstance(failing_otlp, OTLPSpanExporter)
    batch = [one_span()]
    span = weakref.ref(batch[0])
    assert export_and_let_go(failing_otlp, batch) is SpanExportResult.FAILURE
    assert span() is not None  # still the caller's
    del batch
    assert span() is None, "a span handed to export_and_let_go outlived the caller's last reference"


# -- 4. A span's attributes without a copy ------------------------------------------------


def an_sdk_span() -> Span:
    span = TracerProvider().get_tracer("test").start_span("read", attributes={"at.start": "yes", "a.list": ["x", "y"]})
    assert isinstance(span, Span)
    return span


def test_an_sdk_span_keeps_its_attributes_in_a_plain_dict_the_fence_reads_without_a_copy() -> None:
    # When this fails, the SDK keeps a span's attributes some other way: attribute_dict falls back to a copy
    # (correct, but the journal's cost per span grows): rewrite it for where they are now.
    span = an_sdk_span()
    members = vars(vars(span)["_attributes"]).get("_dict")
    assert type(members) is dict, "a span's BoundedAttributes no longer keeps a plain dict in _dict"
    assert attribute_dict(span) is members  # the fence's own path, not its fallback
    assert members == {"at.start": "yes", "a.list": ("x", "y")}  # cleaned as it is set: a list kept as a tuple
    span.set_attribute("later", 2)
    assert attribute_dict(span) is members and members == dict(span.attributes or {})
    span.end()
    span.set_attribute("after.end", 3)  # refused: once ended, the dict the journal reads no longer changes
    assert attribute_dict(span) == {"at.start": "yes", "a.list": ("x", "y"), "later": 2}
    assert marshal.loads(marshal.dumps(attribute_dict(span))) == attribute_dict(span)  # plain values only


def test_a_spans_public_attributes_are_still_a_proxy_over_a_mapping_that_is_no_dict() -> None:
    # When this fails, ReadableSpan exposes its attributes as a plain dict (or a proxy over one, which a
    # dict() copies at C speed): attribute_dict can go, the journal can read span.attributes as it is.
    span = an_sdk_span()
    assert type(span.attributes) is MappingProxyType
    assert not isinstance(vars(span)["_attributes"], dict), "the SDK keeps a plain dict itself: attribute_dict can go"


def test_attribute_dict_copies_what_is_not_an_sdk_spans_own_storage() -> None:
    # Spans the journal rebuilds at start-up are ReadableSpans made with a plain dict: the fallback's case.
    span = ReadableSpan(name="rebuilt", attributes={"k": "v"})
    assert attribute_dict(span) == {"k": "v"}
    assert ReadableSpan(name="bare").attributes == {} and attribute_dict(ReadableSpan(name="bare")) == {}


def test_an_ended_sdk_span_keeps_its_events_and_links_in_deques_the_fence_reads_without_a_copy() -> None:
    # When this fails, the SDK keeps a span's events or links some other way: events_and_links falls back to
    # the public copies (correct, slower): rewrite it for where they are now.
    link = trace.Link(SpanContext(1, 2, is_remote=True, trace_flags=TraceFlags(1)), {"why": "x"})
    span = TracerProvider().get_tracer("test").start_span("read", links=[link])
    span.add_event("e", {"n": 1})
    span.end()
    ended: ReadableSpan = span._readable_span()  # what a processor's on_end is given
    events, links = events_and_links(ended)
    assert type(events) is deque and type(links) is deque, "BoundedList no longer keeps a deque in _dq"
    assert list(events) == list(ended.events) and list(links) == list(ended.links)
    assert attribute_dict(events[0]) == {"n": 1}  # an event's attributes are read the same way as a span's
    span.add_event("after the end")  # refused: the deque the journal reads no longer changes
    assert len(events) == 1


def test_a_rebuilt_span_gives_its_events_and_links_as_they_were_given() -> None:
    rebuilt = ReadableSpan(name="rebuilt")
    assert events_and_links(rebuilt) == ((), ())
