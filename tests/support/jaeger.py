"""Reading traces back from Jaeger's API (v3, OTLP JSON), as the end-to-end tests and people do.

The parsing and the HTTP calls are explore.jaeger_api's (the one `make trace`
uses); this adds the waiting a test needs while spans are on their way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from explore.jaeger_api import JaegerClient, TraceNotFound
from explore.spans import Span


class JaegerTraces:
    """``wait_for`` over Jaeger's ``/api/v3/traces/{id}``: a 404 means "not there yet"."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url.rstrip("/")
        self._client = JaegerClient(self.api_url)

    def fetch(self, trace_id: str) -> list[Span]:
        try:
            return self._client.trace(trace_id)
        except TraceNotFound:
            return []

    def wait_for(self, trace_id: str, until: Callable[[list[Span]], bool], timeout_s: float = 20.0) -> list[Span]:
        deadline = time.monotonic() + timeout_s
        while True:
            spans = self.fetch(trace_id)
            if until(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted(f"{s.service}:{s.kind}:{s.name}" for s in spans)
                raise AssertionError(f"trace {trace_id} not complete in Jaeger after {timeout_s} s: {names}")
            time.sleep(0.25)
