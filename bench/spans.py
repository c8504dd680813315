"""Synthetic OTLP traffic for the gateway bench: traces shaped like a checkout's, at a set rate.

The services cannot push this machine's Collectors to their limit (they spend
far more CPU per span than the Collectors do), so the scale bench sends
ready-made OTLP/HTTP requests instead. Each request is built once from
protobuf messages; before each send only the trace ids are drawn anew, so
every trace is new to the gateways (a repeated id would hit the sampler's
decision cache and cost less than a real trace).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import random
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

#: (service, span name, kind, parent index) of one synthetic order: the 13 spans
#: of a real good order's trace (docs/performance.md), 5 in checkout, 8 in inventory.
SHAPE: tuple[tuple[str, str, int, int | None], ...] = (
    ("checkout", "POST /checkout", Span.SPAN_KIND_SERVER, None),
    ("checkout", "GET", Span.SPAN_KIND_CLIENT, 0),
    ("checkout", "POST", Span.SPAN_KIND_CLIENT, 0),
    ("checkout", "confirm order", Span.SPAN_KIND_INTERNAL, 0),
    ("checkout", "render receipt", Span.SPAN_KIND_INTERNAL, 3),
    ("inventory", "GET /stock/{sku}", Span.SPAN_KIND_SERVER, 1),
    ("inventory", "SELECT", Span.SPAN_KIND_CLIENT, 5),
    ("inventory", "POST /reservations", Span.SPAN_KIND_SERVER, 2),
    ("inventory", "BEGIN", Span.SPAN_KIND_CLIENT, 7),
    ("inventory", "SELECT", Span.SPAN_KIND_CLIENT, 7),
    ("inventory", "UPDATE", Span.SPAN_KIND_CLIENT, 7),
    ("inventory", "INSERT", Span.SPAN_KIND_CLIENT, 7),
    ("inventory", "COMMIT", Span.SPAN_KIND_CLIENT, 7),
)
SPANS_PER_TRACE = len(SHAPE)
#: Share of traces with an error span (all kept by the gateways' policy); with
#: SAMPLE_OK_PERCENT=10 the gateways keep 0.05 + 0.95 x 0.10 = 14.5% of traces.
ERROR_SHARE = 0.05


def _attr(key: str, value: str | int) -> KeyValue:
    any_value = AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value)
    return KeyValue(key=key, value=any_value)


def build_request(traces: int, rng: random.Random) -> ExportTraceServiceRequest:
    """``traces`` synthetic orders in one request, one ResourceSpans per service."""
    now = time.time_ns()
    by_service: dict[str, ResourceSpans] = {}
    every = round(1 / ERROR_SHARE)
    for trace in range(traces):
        failed = trace % every == 0  # exactly ERROR_SHARE of them if traces is a multiple of 20
        ids = [rng.randbytes(8) for _ in SHAPE]
        for index, (service, name, kind, parent) in enumerate(SHAPE):
            if service not in by_service:
                resource = ResourceSpans()
                resource.resource.attributes.extend([_attr("service.name", f"bench-{service}")])
                resource.scope_spans.add().scope.name = "bench.spans"
                by_service[service] = resource
            span = by_service[service].scope_spans[0].spans.add()
            span.span_id = ids[index]
            if parent is not None:
                span.parent_span_id = ids[parent]
            span.name, span.kind = name, kind
            span.start_time_unix_nano = now + index * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + 2_000_000
            span.attributes.extend(
                [_attr("http.request.method", "POST"), _attr("server.address", service), _attr("code.line", index)]
            )
            if failed and index == 7:  # inventory's reservation fails
                span.status.code = Status.STATUS_CODE_ERROR
                span.status.message = "simulated"
    return ExportTraceServiceRequest(resource_spans=list(by_service.values()))


def fresh_trace_ids(request: ExportTraceServiceRequest, traces: int, rng: random.Random) -> None:
    """A new trace id for each of the ``traces`` traces in ``request`` (each service's spans lie trace by trace)."""
    ids = [rng.randbytes(16) for _ in range(traces)]
    for resource in request.resource_spans:
        spans = resource.scope_spans[0].spans
        per_trace = len(spans) // traces
        for index, span in enumerate(spans):
            span.trace_id = ids[index // per_trace]


@dataclass
class Sent:
    spans: int = 0
    refused_requests: int = 0
    cpu_s: float = 0.0


def _send_for(url: str, rate: float, duration_s: float, traces_per_request: int, seed: int, queue: Queue[Sent]) -> None:
    """One sender: requests of ``traces_per_request`` traces, paced to ``rate`` spans a second (open loop)."""
    rng = random.Random(seed)
    request = build_request(traces_per_request, rng)
    spans_per_request = traces_per_request * SPANS_PER_TRACE
    interval_s = spans_per_request / rate
    sent = Sent()
    started = time.monotonic()
    headers = {"content-type": "application/x-protobuf"}
    with httpx.Client(timeout=10) as client:
        for n in itertools.count():
            due = started + n * interval_s
            if due >= started + duration_s:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            fresh_trace_ids(request, traces_per_request, rng)
            try:
                response = client.post(url, content=request.SerializeToString(), headers=headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                sent.spans += spans_per_request
            else:  # the agent's memory_limiter or full queue says "not now" (429/503)
                sent.refused_requests += 1
    times = os.times()
    sent.cpu_s = times.user + times.system
    queue.put(sent)


def send_at(url: str, rate: float, duration_s: float, processes: int = 2, traces_per_request: int = 40) -> Sent:
    """``rate`` spans a second for ``duration_s``, from ``processes`` senders; what the agent accepted."""
    queue: Queue[Sent] = multiprocessing.Queue()
    workers = [
        # Fresh seeds: trace ids a gateway or Jaeger has seen before would not cost what new ones do.
        multiprocessing.Process(target=_send_for, args=(url, rate / processes, duration_s, traces_per_request, seed, queue))
        for seed in random.SystemRandom().sample(range(2**32), processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=duration_s + 60) for _ in workers]
    for worker in workers:
        worker.join(10)
    return Sent(
        spans=sum(r.spans for r in results),
        refused_requests=sum(r.refused_requests for r in results),
        cpu_s=sum(r.cpu_s for r in results),
    )
