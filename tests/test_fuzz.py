"""Fuzzing both services' HTTP APIs from their own OpenAPI schemas (schemathesis).

Valid and invalid requests, generated from each operation's schema: no 5xx
except the designed fault SKUs, every error a JSON body with the trace id,
never a stack trace in an answer.
"""

from __future__ import annotations

import json
import os
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.support.processes import ServiceProcess

#: Cases per operation and mode. FUZZ_EXAMPLES raises it for a longer soak.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FAULT_SKUS = ("fault-crash", "fault-slow")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_well_behaved(case: schemathesis.Case, status: int, body: bytes) -> None:
    sent = json.dumps([case.path_parameters, case.body, case.headers], default=str)
    if status >= 500:
        assert any(sku in sent for sku in FAULT_SKUS), f"{status} for {case.method} {case.formatted_path}: {body[:300]!r}"
    assert b"Traceback" not in body
    if status >= 400:
        error = json.loads(body)
        assert set(error) == {"error", "message", "trace_id", "trace_url"}, error
        assert TRACE_ID.match(error["trace_id"]), error


fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)


def fuzz_every_operation(service: ServiceProcess) -> int:
    """Run the generated cases of every operation in the service's schema; return how many ran."""
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
    ran = 0
    for operation in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.ok().as_strategy(generation_mode=mode))
            @fuzz
            def one(case: schemathesis.Case) -> None:
                nonlocal ran
                ran += 1
                response = case.call(base_url=service.url, timeout=15)
                assert_well_behaved(case, response.status_code, response.content)

            one()
    return ran


def test_checkout_api_under_fuzzing(checkout: ServiceProcess) -> None:
    assert fuzz_every_operation(checkout) >= EXAMPLES


def test_inventory_api_under_fuzzing(inventory: ServiceProcess) -> None:
    assert fuzz_every_operation(inventory) >= 3 * EXAMPLES
