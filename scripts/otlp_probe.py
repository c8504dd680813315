"""Send one test span over OTLP/HTTP (default http://127.0.0.1:4318) and print its trace id;
with --check, wait until Jaeger has it. Checks the pipeline alone, without the services.

    .venv/bin/python -m scripts.otlp_probe --check      # after `make install` and `make up`
"""

from __future__ import annotations

import argparse
import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from traceproof.jaeger import JaegerClient, JaegerError, has_spans


def send_span(endpoint: str, service: str) -> str:
    """One span, exported at once; its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    with provider.get_tracer("shoptrace.probe").start_as_current_span("probe-span") as span:
        span.set_attribute("probe.time", time.time())
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def main() -> int:
    ap = argparse.ArgumentParser(prog="otlp-probe")
    ap.add_argument("--endpoint", default="http://127.0.0.1:4318")
    ap.add_argument("--jaeger", default="http://127.0.0.1:16686")
    ap.add_argument("--service", default="otlp-probe")
    ap.add_argument("--check", action="store_true", help="wait until Jaeger returns the trace")
    ap.add_argument("--trace-id", help="only check that this trace id is in Jaeger")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    trace_id = args.trace_id or send_span(args.endpoint, args.service)
    print(trace_id)
    if not (args.check or args.trace_id):
        return 0
    try:
        with JaegerClient(args.jaeger) as jaeger:
            spans = jaeger.wait_for(trace_id, has_spans(1), timeout_s=args.timeout, interval_s=0.5)
    except JaegerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"found in Jaeger: trace {trace_id} spans={[s.name for s in spans]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
