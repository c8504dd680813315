"""traceproof.jaeger against Jaeger's answers as documented (the real ones are in tests/e2e)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.fake_clock import FakeClock
from traceproof.jaeger import (
    JaegerClient,
    JaegerError,
    MalformedTraceId,
    TraceIncomplete,
    TraceNotFound,
    normalize_trace_id,
    settled,
)
from traceproof.spans import from_otlp_json

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def otlp(trace_id_field: str, span_id_field: str) -> dict:
    return {
        "result": {
            "resourceSpans": [
                {
                    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "inventory"}}]},
                    "scopeSpans": [
                        {
                            "scope": {"name": "opentelemetry.instrumentation.fastapi"},
                            "spans": [
                                {
                                    "traceId": trace_id_field,
                                    "spanId": span_id_field,
                                    "parentSpanId": "",
                                    "name": "GET /stock/{sku}",
                                    "kind": 2,
                                    "startTimeUnixNano": "1000",
                                    "endTimeUnixNano": "5000",
                                    "status": {"code": 2, "message": "SimulatedCrash: boom"},
                                    "attributes": [{"key": "http.response.status_code", "value": {"intValue": "500"}}],
                                    "events": [
                                        {
                                            "name": "exception",
                                            "attributes": [
                                                {
                                                    "key": "exception.type",
                                                    "value": {"stringValue": "inventory.faults.SimulatedCrash"},
                                                },
                                                {"key": "exception.message", "value": {"stringValue": "boom"}},
                                            ],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    }


@pytest.mark.parametrize(
    ("trace_field", "span_field"),
    [
        (TRACE, "00f067aa0ba902b7"),  # OTLP JSON: hex
        ("S/kvNXezTaajzpKdDg5HNg==", "APBnqgupArc="),  # protobuf JSON mapping: base64
    ],
)
def test_otlp_json_becomes_spans_with_ids_in_hex(trace_field: str, span_field: str) -> None:
    (span,) = from_otlp_json(otlp(trace_field, span_field))
    assert (span.trace_id, span.span_id, span.parent_id) == (TRACE, "00f067aa0ba902b7", None)
    assert (span.service, span.kind, span.status, span.duration_ns) == ("inventory", "server", "error", 4000)
    assert span.attributes["http.response.status_code"] == 500
    assert span.error == ("SimulatedCrash", "boom")


def test_trace_ids_are_32_hex_digits_not_all_zero() -> None:
    assert normalize_trace_id(f" {TRACE.upper()} ") == TRACE
    for bad in ("", "xyz", TRACE[:-1], TRACE + "0", "0" * 32, "g" * 32):
        with pytest.raises(MalformedTraceId):
            normalize_trace_id(bad)


def jaeger(handler) -> JaegerClient:  # type: ignore[no-untyped-def]
    return JaegerClient("http://jaeger.test:16686", transport=httpx.MockTransport(handler), api="v3")


def test_a_missing_trace_is_trace_not_found_and_other_errors_are_reported() -> None:
    with (
        jaeger(lambda request: httpx.Response(404, json={"error": {"message": "trace not found"}})) as client,
        pytest.raises(TraceNotFound, match=r"has no trace .* \(yet\)"),
    ):
        client.trace(TRACE)
    with (
        jaeger(lambda request: httpx.Response(500, text="badger closed")) as client,
        pytest.raises(JaegerError, match="answered 500 .*badger closed"),
    ):
        client.trace(TRACE)


def test_the_latest_failing_trace_is_the_one_that_started_last() -> None:
    asked: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(
            200,
            json={
                "data": [
                    {"traceID": "1" * 32, "spans": [{"startTime": 100}, {"startTime": 300}]},
                    {"traceID": "2" * 32, "spans": [{"startTime": 200}]},
                ]
            },
        )

    with jaeger(handler) as client:
        assert client.latest_failing_trace("checkout", lookback_s=600) == "1" * 32
    (request,) = asked
    assert request.url.path == "/api/traces"
    params = request.url.params
    assert params["service"] == "checkout" and json.loads(params["tags"]) == {"error": "true"}
    assert int(params["end"]) - int(params["start"]) == 600_000_000


def test_no_failing_trace_says_how_to_make_one() -> None:
    with (
        jaeger(lambda request: httpx.Response(200, json={"data": []})) as client,
        pytest.raises(TraceNotFound, match="no failing trace of checkout in the last 60 minutes"),
    ):
        client.latest_failing_trace("checkout", lookback_s=3600)


def one_span_answer(count: int) -> dict:
    """Jaeger's answer for TRACE with ``count`` spans."""
    payload = otlp(TRACE, "00f067aa0ba902b7")
    (span,) = payload["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans = [{**span, "spanId": f"{i + 1:016x}"} for i in range(count)]
    payload["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"] = spans
    return payload


def test_wait_for_waits_through_not_found_and_restarts_until_the_spans_are_enough(clock: FakeClock) -> None:
    answers = iter(
        [httpx.Response(404), httpx.ConnectError("refused"), httpx.Response(200, json=one_span_answer(1))]
        + [httpx.Response(200, json=one_span_answer(3))] * 10
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with jaeger(handler) as client:
        spans = client.wait_for(TRACE, lambda s: len(s) >= 3, timeout_s=30, interval_s=0.25)
    assert len(spans) == 3
    assert clock.now == 3 * 0.25  # asked four times, a quarter of a second apart


def test_wait_for_gives_up_with_what_it_had_and_an_unreachable_jaeger_can_end_it_at_once(clock: FakeClock) -> None:
    with jaeger(lambda request: httpx.Response(200, json=one_span_answer(2))) as client, pytest.raises(TraceIncomplete) as caught:
        client.wait_for(TRACE, lambda s: len(s) >= 3, timeout_s=20, interval_s=0.25)
    assert len(caught.value.spans) == 2 and "GET /stock/{sku}" in str(caught.value)
    assert 20 <= clock.now < 20 + 0.25  # at the timeout, not an interval later

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    asked_at = clock.now
    with jaeger(refused) as client, pytest.raises(JaegerError, match="not reachable"):
        client.wait_for(TRACE, lambda s: bool(s), timeout_s=30, through_restarts=False)
    assert clock.now == asked_at  # at once: no wait


def test_settled_holds_once_the_count_stops_changing(clock: FakeClock) -> None:
    until = settled(2.0)
    assert not until([])
    one = from_otlp_json(one_span_answer(1))
    assert not until(one)  # just arrived
    clock.now += 1.5
    assert not until(one)  # not quiet for long enough yet
    clock.now += 0.5
    assert until(one)
    assert not until(from_otlp_json(one_span_answer(2)))  # grew: the quiet time starts again
    clock.now += 2.0
    assert until(from_otlp_json(one_span_answer(2)))
