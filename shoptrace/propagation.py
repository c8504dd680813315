"""W3C Trace Context and Baggage propagators that hold to the specs' limits on hostile input.

The SDK's propagators are lenient in two places that matter at an edge:
* two ``traceparent`` headers: the SDK continues the first; the W3C test
  suite expects a new trace, since neither can be trusted;
* ``baggage``: the SDK accepts 180 list-members; W3C Baggage sets 64 (and
  8192 bytes, which the SDK does enforce). Baggage is forwarded on every
  call checkout makes, so an oversized one would travel on.
"""

from __future__ import annotations

import logging
import os

from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = logging.getLogger(__name__)


class StrictTraceContext(TraceContextTextMapPropagator):
    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        headers = getter.get(carrier, self._TRACEPARENT_HEADER_NAME)
        if headers is not None and len(headers) > 1:
            return context if context is not None else Context()
        return super().extract(carrier, context, getter)


class W3CLimitedBaggage(W3CBaggagePropagator):
    _MAX_PAIRS = 64  # W3C Baggage, "Limits"


_STRICT = {"tracecontext": StrictTraceContext, "baggage": W3CLimitedBaggage}


def install() -> None:
    """Use the strict variants for OTEL_PROPAGATORS=tracecontext,baggage (the default).

    Any other choice (b3, jaeger...) is left to the SDK, which already read it.
    """
    names = [n.strip() for n in os.environ.get("OTEL_PROPAGATORS", "tracecontext,baggage").split(",") if n.strip()]
    if not set(names) <= {*_STRICT, "none"}:
        log.info("OTEL_PROPAGATORS=%s: using the SDK's propagators as configured", ",".join(names))
        return
    propagate.set_global_textmap(CompositePropagator([_STRICT[n]() for n in names if n in _STRICT]))
