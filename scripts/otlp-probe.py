#!/usr/bin/env python3
"""Send one test span over OTLP/HTTP (default http://127.0.0.1:4318) and print
its trace id; with --check, poll Jaeger's /api/v3/traces/<id> until it shows.

Needs opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http, e.g.
  python3 -m venv /tmp/otelprobe
  /tmp/otelprobe/bin/pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
  /tmp/otelprobe/bin/python scripts/otlp-probe.py --check
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def fetch_trace(jaeger: str, trace_id: str):
    url = f"{jaeger}/api/v3/traces/{trace_id}"
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", default="http://127.0.0.1:4318")
    ap.add_argument("--jaeger", default="http://127.0.0.1:16686")
    ap.add_argument("--service", default="otlp-probe")
    ap.add_argument("--check", action="store_true", help="wait until Jaeger returns the trace")
    ap.add_argument("--trace-id", help="only check that this trace id is in Jaeger")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()

    if args.trace_id:
        trace_id = args.trace_id
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{args.endpoint}/v1/traces")))
        with provider.get_tracer("shoptrace.probe").start_as_current_span("probe-span") as span:
            span.set_attribute("probe.time", time.time())
            trace_id = format(span.get_span_context().trace_id, "032x")
        provider.shutdown()
        print(trace_id)
        if not args.check:
            return 0

    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        data = fetch_trace(args.jaeger, trace_id)
        if data:
            spans = [s["name"] for rs in data["result"]["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]
            print(f"found in Jaeger: trace {trace_id} spans={spans}")
            return 0
        time.sleep(0.5)
    print(f"trace {trace_id} not found in Jaeger within {args.timeout}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
