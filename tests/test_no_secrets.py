"""Nothing a caller sends in secret reaches a span attribute or a log line."""

from __future__ import annotations

import httpx

from tests.support.processes import ServiceProcess
from traceproof.traces import Traces

SECRETS = ("Bearer-s3cr3t-token", "session-c00kie-value", "alice-at-example", "4111111111111111")


def test_headers_query_and_body_values_stay_out_of_spans_and_logs(
    checkout: ServiceProcess, inventory: ServiceProcess, traces: Traces
) -> None:
    headers = {"authorization": f"Bearer {SECRETS[0]}", "cookie": f"session={SECRETS[1]}"}
    trace_ids = []
    for body in ({"sku": "item-123"}, {"sku": "item-123", "card": SECRETS[3]}, {"sku": "fault-crash"}):
        response = httpx.post(f"{checkout.url}/checkout", params={"email": SECRETS[2]}, json=body, headers=headers, timeout=10)
        assert response.status_code in (201, 422, 502)
        assert not [s for s in SECRETS if s in response.text]
        trace_ids.append(response.json()["trace_id"])
    for trace_id in trace_ids:
        trace = traces.get(trace_id, until=lambda t: bool(t.find(service="checkout", kind="server")))
        server = trace.one(service="checkout", kind="server")
        assert server.attributes["url.query"] == "email=REDACTED"  # the name stays, to debug with
        for span in trace.spans:
            dumped = repr(span.attributes) + repr([e.attributes for e in span.events])
            assert not [s for s in SECRETS if s in dumped], (span.name, span.attributes)
    for service in (checkout, inventory):
        logged = "\n".join(service.stdout_lines())
        assert not [s for s in SECRETS if s in logged]
