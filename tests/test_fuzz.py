"""Fuzzing both services' HTTP APIs from their own OpenAPI schemas (schemathesis).

Valid and invalid requests, generated from each operation's schema: no 5xx
except the designed fault SKUs, every error a JSON body with the trace id,
never a stack trace in an answer. A case that names ``fault-kill`` is never
sent: it kills inventory for real (SIGKILL), and every case after it would
be answered by a dead service (tests/test_fault_kill.py is its test).
"""

from __future__ import annotations

import json
import os
import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from inventory.faults import KILL_SKU
from tests.support.processes import ServiceProcess

#: Cases per operation and mode. FUZZ_EXAMPLES raises it for a longer soak.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FAULT_SKUS = ("fault-crash", "fault-slow")
#: SKUs whose fault takes the service under test down: their cases are filtered out, never sent.
KILLING_SKUS = (KILL_SKU,)
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def what_is_sent(case: schemathesis.Case) -> str:
    """Every value of the case's request, as one text a SKU is looked for in."""
    return json.dumps([case.path_parameters, case.query, case.body, case.headers], default=str)


def harmless(case: schemathesis.Case) -> bool:
    sent = what_is_sent(case)
    return not any(sku in sent for sku in KILLING_SKUS)


def assert_well_behaved(case: schemathesis.Case, status: int, body: bytes) -> None:
    sent = what_is_sent(case)
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

            @given(case=operation.ok().as_strategy(generation_mode=mode).filter(harmless))
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
