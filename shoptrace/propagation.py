"""W3C Trace Context and Baggage propagators that hold to the current specs on hostile input.

The SDK's propagators differ from the specs in three places that matter at an edge:
* two ``traceparent`` headers: the SDK continues the first; the W3C test
  suite expects a new trace, since neither can be trusted;
* ``tracestate``: the SDK (API 1.45) parses keys by an older grammar, in which
  a vendor key may hold one ``@`` with at most 13 characters after it, and it
  drops the whole header for a key it rejects or a key seen twice, so valid
  vendors' entries are lost. :func:`parse_tracestate` follows the current
  grammar (see there);
* ``baggage``: the SDK accepts 180 list-members; W3C Baggage sets 64 (and
  8192 bytes, which the SDK does enforce). Baggage is forwarded on every
  call checkout makes, so an oversized one would travel on.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence

from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shoptrace.otel_internals import unchecked_trace_state

log = logging.getLogger(__name__)

#: W3C Trace Context, tracestate key: a lowercase letter or digit, then up to 255 of
#: lowercase letters, digits, ``_ - * / @`` (vendor keys such as ``tenant@vendor`` included).
_KEY = r"[a-z0-9][_0-9a-z\-*/@]{0,255}"
#: ... and value: up to 256 printable ASCII characters but ``,`` and ``=``, not ending in a space.
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(f"({_KEY})=({_VALUE})")
MAX_TRACESTATE_MEMBERS = 32
#: The combined header's length over which it is not parsed at all (the SDK's bound too).
MAX_TRACESTATE_LENGTH = 8192
#: W3C Baggage, "Limits": at most 64 list-members are propagated (the SDK's own bound is 180).
MAX_BAGGAGE_MEMBERS = 64

#: The W3C Trace Context header names (the specification's, not the SDK's constants).
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


def parse_tracestate(fields: Sequence[str]) -> TraceState:
    """The incoming ``tracestate`` field lines, combined in order, as the current W3C rules read them.

    * Multiple fields are one list, joined by commas in the order received;
      spaces and tabs around members are ignored, and so are empty members.
    * A key seen a second time is dropped, the first one kept (the spec lets a
      vendor discard duplicates; forwarding both would send an invalid list).
    * A member that is not ``key=value`` by the grammar, more than 32 members,
      or a combined header over 8192 characters: the header "cannot be
      parsed", and is discarded whole, as the W3C test suite's strict level
      expects (the spec allows it; forwarding the rest would pass on a list the
      next vendor may read differently).
    """
    if sum(len(f) for f in fields) + len(fields) - 1 > MAX_TRACESTATE_LENGTH:
        return TraceState()
    members: dict[str, str] = {}
    count = 0
    for field in fields:
        for raw in field.split(","):
            member = raw.strip(" \t")
            if not member:
                continue
            match = _MEMBER.fullmatch(member)
            count += 1
            if match is None or count > MAX_TRACESTATE_MEMBERS:
                return TraceState()
            key, value = match.groups()
            members.setdefault(key, value)
    # The API's constructor would check each key again, by its older grammar, and drop vendor keys
    # the current one allows: the members go in as checked here (shoptrace.otel_internals).
    return unchecked_trace_state(members.items())


class W3CTraceContext(TraceContextTextMapPropagator):
    """The SDK's ``traceparent`` handling, with a new trace for two of them, and :func:`parse_tracestate`."""

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        headers = getter.get(carrier, TRACEPARENT)
        if headers is not None and len(headers) > 1:
            return context if context is not None else Context()
        extracted = super().extract(carrier, context, getter)
        parent = trace.get_current_span(extracted).get_span_context()
        fields = getter.get(carrier, TRACESTATE)
        if extracted is context or not parent.is_valid or not parent.is_remote or not fields:
            return extracted  # no traceparent taken from this carrier, or no tracestate with it
        parent = SpanContext(
            trace_id=parent.trace_id,
            span_id=parent.span_id,
            is_remote=True,
            trace_flags=parent.trace_flags,
            trace_state=parse_tracestate(list(fields)),
        )
        return trace.set_span_in_context(NonRecordingSpan(parent), context)


class W3CLimitedBaggage(W3CBaggagePropagator):
    """The SDK's W3C Baggage propagator, keeping at most :data:`MAX_BAGGAGE_MEMBERS` members, the first ones.

    The SDK's own checks (8192 bytes, the grammar) run first, unchanged; the
    cut is applied to the baggage it extracted, and to what is injected.
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        return _first_members(super().extract(carrier, context, getter))

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        super().inject(carrier, _first_members(context), setter)


def _first_members(context: Context | None) -> Context:
    """``context`` (the current one if None) with only the first :data:`MAX_BAGGAGE_MEMBERS` members of its baggage."""
    if context is None:
        context = get_current()
    members = baggage.get_all(context)
    if len(members) <= MAX_BAGGAGE_MEMBERS:
        return context
    kept = baggage.clear(context)
    for name, value in list(members.items())[:MAX_BAGGAGE_MEMBERS]:
        kept = baggage.set_baggage(name, value, kept)
    return kept


_STRICT = {"tracecontext": W3CTraceContext, "baggage": W3CLimitedBaggage}


def install() -> None:
    """Use the strict variants for OTEL_PROPAGATORS=tracecontext,baggage (the default).

    Any other choice (b3, jaeger...) is left to the SDK, which already read it.
    """
    names = [n.strip() for n in os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage").split(",") if n.strip()]
    if not set(names) <= {*_STRICT, "none"}:
        log.info("OTEL_PROPAGATORS=%s: using the SDK's propagators as configured", ",".join(names))
        return
    propagate.set_global_textmap(CompositePropagator([_STRICT[n]() for n in names if n in _STRICT]))
