"""The scale tests' fixtures: the stack as ``make up-scale`` runs it (docker-compose.scale.yml).

They read the gateway containers and the policy they run with from Docker
itself, so the tests check what is running, with whatever GATEWAYS,
SAMPLE_SLOW_MS and SAMPLE_OK_PERCENT it was started with.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import jaeger, prometheus, stack_is_up  # noqa: F401 (fixtures)
from tests.support.load import wait_until
from tests.support.processes import ROOT
from tests.support.results import recorded
from traceproof.prometheus import PrometheusClient
from traceproof.spans import Span

#: The Compose project the stack runs as: make test's own (COMPOSE_PROJECT_NAME), else docker-compose.yml's name:.
PROJECT = os.environ.get("COMPOSE_PROJECT_NAME") or "shoptrace"
GATEWAY_SERVICE = "gateway"
#: What checkout answers each SKU with.
STATUS = {"item-123": 201, "fault-crash": 502, "fault-slow": 504, "sold-out": 409}
#: collector/gateway.yaml's decision_wait, plus the exports before and after the gateway.
DECIDED_WITHIN_S = 10.0 + 5.0
#: Traces a gateway holds awaiting their decision, and spans waiting to be sent to Jaeger.
HELD = 'sum(otelcol_processor_tail_sampling_sampling_traces_on_memory{job="gateways"})'
QUEUED = 'sum(otelcol_exporter_queue_size{job="gateways"})'
#: When each gateway's held count was last scraped.
HELD_SCRAPED = 'min(timestamp(otelcol_processor_tail_sampling_sampling_traces_on_memory{job="gateways"}))'
#: Traces the gateways decided, by whether they were kept ("true") or not.
DECIDED = 'sum by (sampled) ({__name__=~"otelcol_processor_tail_sampling_global_count_traces_sampled(_total)?", job="gateways"})'
#: Jaeger's own batch (jaeger/config.yaml, 200 ms) between a gateway's send and the trace being readable, with room.
JAEGER_WRITES_WITHIN_S = 5.0


def docker(*args: str, timeout_s: float = 60) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s, check=True).stdout


def gateway_containers(running_only: bool = True) -> list[str]:
    """The gateway replicas' container names, sorted (shoptrace-gateway-1, ... in the project they run in)."""
    labels = [f"label=com.docker.compose.{k}={v}" for k, v in (("project", PROJECT), ("service", GATEWAY_SERVICE))]
    filters = [arg for label in labels for arg in ("--filter", label)]
    return sorted(docker("ps", *(() if running_only else ("-a",)), *filters, "--format", "{{.Names}}").split())


@dataclass(frozen=True)
class Policy:
    """The gateways' tail-sampling knobs, as their containers were started with."""

    gateways: int
    slow_ms: float
    ok_percent: float


@pytest.fixture(scope="session")
def policy() -> Policy:
    names = gateway_containers()
    if not names:
        pytest.fail("no gateway is running: these tests need `make up-scale` (make test-scale starts it)")
    env = dict(e.split("=", 1) for e in json.loads(docker("inspect", "-f", "{{json .Config.Env}}", names[0])))
    return Policy(len(names), float(env["SAMPLE_SLOW_MS"]), float(env["SAMPLE_OK_PERCENT"]))


@pytest.fixture(scope="session")
def record() -> Iterator[dict[str, Any]]:
    """Figures by test; written to bench/results/gateway-tier.json (docs/scaling.md quotes them).

    The gateway bench's throughput is in bench/results/scale.json.
    """
    yield from recorded(ROOT / "bench" / "results" / "gateway-tier.json")


def holes(spans: list[Span]) -> list[str]:
    """What makes a trace not whole: a parent that is not in it, a second root, a service missing."""
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id is None]
    problems = [f"{s.service} {s.name}: parent {s.parent_id} is missing" for s in spans if s.parent_id and s.parent_id not in ids]
    if [(r.service, r.kind) for r in roots] != [("checkout", "server")]:
        problems.append(f"roots {[(r.service, r.kind, r.name) for r in roots]}, not one checkout SERVER span")
    if {s.service for s in spans} != {"checkout", "inventory"}:
        problems.append(f"services {sorted({s.service for s in spans})}")
    return problems


def value(client: PrometheusClient, promql: str) -> float | None:
    samples = client.query(promql)
    return samples[0].value if samples else None


def wait_decided_and_sent(client: PrometheusClient, within_s: float = DECIDED_WITHIN_S + 30) -> float:
    """Until every gateway, scraped after this call, holds no trace awaiting its decision and no span to send.

    A condition, not a sleep: each trace is decided decision_wait after its first
    span and then written at once, so this returns as soon as the last one is.
    Seconds it took.
    """
    since = time.time()

    def drained() -> bool:
        scraped = value(client, HELD_SCRAPED)
        return scraped is not None and scraped > since and value(client, HELD) == 0 and value(client, QUEUED) == 0

    return wait_until(drained, within_s, "the gateways to decide and send every trace they hold")


def decided(client: PrometheusClient) -> dict[str, int]:
    """Traces the gateways have decided so far: {"true": kept, "false": not kept}."""
    return {s.labels.get("sampled", ""): round(s.value) for s in client.query(DECIDED)}
