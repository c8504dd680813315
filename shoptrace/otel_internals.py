"""Every place the kit relies on how an OpenTelemetry package works inside, not on what it promises.

Nothing else in the kit touches a private name of a dependency or depends on
one of its implementation details; each one is here, with the version it was
read from (requirements.lock), why no public interface does the job, and what
upstream change would let it go. tests/test_otel_internals.py checks each
assumption against the installed packages, so an upgrade that changes one
fails there, by name, instead of somewhere downstream.

1. :func:`unchecked_trace_state`: a ``TraceState`` holding members the API's
   own key check would drop (opentelemetry-api 1.45.1).
2. :func:`opt_in_to_stable_semconv`: OTEL_SEMCONV_STABILITY_OPT_IN, which the
   contrib instrumentations read only from the environment
   (opentelemetry-instrumentation 0.66b1).
3. :func:`export_and_let_go`: a batch handed to the OTLP/HTTP exporter is
   not kept alive by what a failed try leaves behind
   (opentelemetry-exporter-otlp-proto-http 1.45.1,
   opentelemetry-exporter-otlp-common 0.66b1).
4. :func:`attribute_dict`, :func:`events_and_links`: a span's attributes,
   events and links read from where the SDK keeps them, without the copies
   the public views cost (opentelemetry-sdk 1.45.1).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, TraceState

# -- 1. TraceState with the current W3C key grammar --------------------------------------
#
# Read from: opentelemetry-api 1.45.1, opentelemetry/trace/span.py. ``TraceState``
# keeps its members in ``self._dict``; its constructor, ``add``, ``update`` and
# ``from_header`` all check each key with ``_is_valid_pair``, by the older
# grammar (a vendor key holds one ``@`` with at most 13 characters after it),
# and drop what fails. The current W3C grammar (shoptrace.propagation._KEY)
# allows keys such as ``t@`` followed by 15 characters, or ``two@@signs``, that
# no public way of building a TraceState keeps. Reading and injecting
# (``items``, ``to_header``) are the API's own and need nothing.
#
# Upstream: no open-telemetry/opentelemetry-python issue asks for the current
# key grammar, or for a TraceState built from already-checked members, as far
# as a search of the issue tracker found; the nearest, #5136 ("TraceState
# does not check illegal inputs") and its PR #5599, go the other way (a
# stricter older grammar). What would remove this: the API accepting the
# current grammar, or a public constructor that does not re-check.


def unchecked_trace_state(members: Iterable[tuple[str, str]]) -> TraceState:
    """A TraceState holding ``members`` as given, in order: the caller has checked them.

    Only shoptrace.propagation.parse_tracestate calls it, with members it
    matched against the current W3C grammar and limits.
    """
    state = TraceState()
    state._dict.update(members)  # see the note above: the API's own storage, at 1.45.1
    return state


# -- 2. OTEL_SEMCONV_STABILITY_OPT_IN ----------------------------------------------------
#
# Read from: opentelemetry-instrumentation 0.66b1, opentelemetry/instrumentation/_semconv.py.
# ``_OpenTelemetrySemanticConventionStability._initialize`` reads the variable
# from ``os.environ`` once per process, on the first ``instrument``/
# ``instrument_app``/``instrument_client`` call (importing an instrumentation
# does not read it), and no instrumentation takes the choice as an argument.
# So the only way for the kit to choose the stable conventions, and keep the
# user's own choice, is to set the variable once, at start-up, before the
# first instrumentation runs: shoptrace.telemetry.setup does, through this
# function, before it returns the Telemetry that instruments anything.
#
# Upstream: no open-telemetry/opentelemetry-python-contrib issue asks for a
# programmatic (non-environment) way to choose the stability mode, as far as a
# search found (#3965 asks for an ``opentelemetry-instrument`` flag, still the
# environment). open-telemetry/semantic-conventions#2894 proposes the setting
# for declarative configuration; if the Python SDK's declarative configuration
# ever carries it to the instrumentations, this can go.

SEMCONV_OPT_IN_VARIABLE = "OTEL_SEMCONV_STABILITY_OPT_IN"


def opt_in_to_stable_semconv(value: str) -> None:
    """Set OTEL_SEMCONV_STABILITY_OPT_IN to ``value`` for this process, before any instrumentation reads it.

    ``value`` is the user's own list with the kit's signals added
    (shoptrace.telemetry.semconv_opt_in). The one write to ``os.environ`` in
    the kit; child processes inherit it, as they would the user's own setting.
    """
    os.environ[SEMCONV_OPT_IN_VARIABLE] = value


# -- 3. A failed OTLP/HTTP export keeps its batch ---------------------------------------
#
# Read from: opentelemetry-exporter-otlp-common 0.66b1,
# opentelemetry/exporter/otlp/common/http.py, ``_OTLPHTTPClient.export``: the
# exception a failed try caught is kept in a local (``export_error``) and in
# the returned result, so the exception, its traceback and the frames of the
# call (``OTLPSpanExporter.export``'s among them, holding the ``spans`` it was
# given) form a reference cycle. Only the cyclic garbage collector frees it,
# and with the services' thresholds (shoptrace.server.tune_gc) a full
# collection is rare: in an outage, every batch tried and later dropped from
# the span buffer stayed in memory meanwhile, past the buffer's budget.
#
# What the kit does about it uses public interfaces only (a list of its own,
# emptied after the call), but relies on this detail: the exporter reaches
# the spans only through the sequence it was given, so an emptied list leaves
# the cycle holding no span (the encoded request, much smaller, stays until
# the collector runs). tests/test_span_buffer.py checks that the spans die at
# once; tests/test_otel_internals.py that the cycle is still there (when it is
# gone upstream, this can go).
#
# Upstream: no issue about it was found in open-telemetry/opentelemetry-python.


def export_and_let_go(exporter: SpanExporter, batch: Sequence[ReadableSpan]) -> SpanExportResult:
    """``exporter.export(batch)``, leaving the exporter nothing that holds the batch's spans once it returns.

    The batch is handed over as a list of this call's own, emptied when the
    export returns (or raises): whatever the exporter still references of the
    call, a caught exception's frames included, then holds an empty list.
    """
    handed = list(batch)
    # This frame is one the cycle holds too (the exporter's frames link back to it), so it keeps
    # no reference to the caller's sequence either.
    del batch
    try:
        return exporter.export(handed)
    finally:
        handed.clear()


# -- 4. A span's attributes, events and links without a copy ---------------------------------
#
# Read from: opentelemetry-sdk 1.45.1, opentelemetry/sdk/trace/__init__.py, and
# opentelemetry-api 1.45.1, opentelemetry/attributes/__init__.py. An SDK span
# keeps its attributes in ``_attributes``, a ``BoundedAttributes`` whose
# members are a plain dict, ``_dict`` (keys checked, values cleaned: str,
# bool, int, float or tuples of one of them, subclasses such as an IntEnum
# kept as they are). The public way to read them, ``span.attributes``, is a
# ``MappingProxyType`` over the ``BoundedAttributes``: turning it into a dict
# goes through the ``Mapping`` protocol key by key, in Python, twice a span
# (shoptrace.span_journal encodes the attributes at a span's start and at its
# end, in the request path). The dict itself
# costs nothing to reach, and marshal encodes it as it is; the journal only
# reads it, in the thread that owns the span (at its start) or once it is
# immutable (at its end).
#
# Events and links likewise: a span made by the SDK keeps them in
# ``_events`` and ``_links``, each a ``BoundedList`` whose members are a
# ``collections.deque``, ``_dq``; the public ``span.events`` and ``span.links``
# each copy it twice (a list under the list's lock, then a tuple), even when
# empty, which most spans are. The journal reads them once the
# span has ended (the SDK refuses an event or a link after that), so the deque
# no longer changes. A span built as a ``ReadableSpan`` (the journal's own,
# rebuilt at start-up) keeps the sequences it was given, read as they are.
#
# Upstream: no issue asks for a cheap read-only view of a span's attributes.
# What would remove this: ``ReadableSpan`` exposing its attributes as a plain
# mapping, or ``BoundedAttributes`` a ``copy``-free ``as_dict``; its events and
# links as the sequences it holds.


def attribute_dict(span: ReadableSpan | Event) -> dict[str, Any]:
    """The attributes of ``span`` (or of one of its events) as the dict the SDK keeps them in (read only, never mutate
    it); a copy if it keeps them otherwise."""
    attributes = getattr(span, "_attributes", None)
    members = getattr(attributes, "_dict", None)  # see the note above: BoundedAttributes' storage, at 1.45.1
    if type(members) is dict:
        return members
    return dict(span.attributes or {})


def events_and_links(span: ReadableSpan) -> tuple[Sequence[Event], Sequence[Link]]:
    """An ended ``span``'s events and links as the SDK keeps them (read only); the public copies if it keeps them otherwise."""
    events = _kept(getattr(span, "_events", None))
    links = _kept(getattr(span, "_links", None))
    return (span.events if events is None else events, span.links if links is None else links)


def _kept(held: object) -> Any:
    """What a span holds its events or links in, if it is a plain sequence or a BoundedList's deque; else None."""
    if type(held) is tuple or type(held) is list:
        return held
    members = getattr(held, "_dq", None)  # see the note above: BoundedList's storage, at 1.45.1
    return members if type(members) is collections.deque else None
