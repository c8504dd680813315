"""``make bench-one-host``: how well the doctor tells a caller's breaks from direct calls when both come from one address.

The laptop case: checkout calls inventory with a bare httpx client (no CLIENT
span, no ``traceparent``: a break on every order), while a person (curl), a
fuzzer (schemathesis) or a script with the same httpx client calls inventory
directly, all from 127.0.0.1. The services are the pitfall examples' real
ASGI apps under the real OpenTelemetry instrumentation, in one process,
recorded in memory (examples/pitfalls/recorder.py); the orders and the
direct calls run side by side on one event loop, paced by seeded random
pauses, so their spans overlap as real traffic does.

Every root SERVER span of inventory is labelled by how it was made (a break
or a direct call), and the doctor's word on it is read back: named as a
break, left as a doubt, or taken as an entry point. For each scenario it
records precision and recall of the named breaks and the doubts left.
Timing is real, so the figures may move a little between runs; it asserts
nothing. Writes bench/results/doctor-one-host.json (doctor-one-host-smoke.json
with BENCH_SMOKE=1: one seed, to keep it working); docs/doctor.md quotes it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass
from typing import Any

import httpx

from bench.machine import machine
from bench.services import ROOT
from examples.pitfalls.downstream import inventory_app, inventory_client
from examples.pitfalls.recorder import Recorder
from examples.pitfalls.story import checkout_request
from traceproof.doctor import BreakKind, diagnose

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
RESULTS = ROOT / "bench" / "results" / ("doctor-one-host-smoke.json" if SMOKE else "doctor-one-host.json")
SEEDS = (1,) if SMOKE else (1, 2, 3)


@dataclass(frozen=True)
class Scenario:
    name: str
    broken_orders: int
    connected_orders: int
    #: (user agent, count) of the direct calls; None: httpx's own, as the bare client sends.
    direct: tuple[tuple[str | None, int], ...]


SCENARIOS = (
    Scenario("bare client, curl calls beside it", 40, 1, (("curl/8.5.0", 30),)),
    Scenario("bare client, a fuzzer and curl beside it", 40, 1, (("schemathesis/4.32.5", 60), ("curl/8.5.0", 10))),
    Scenario("bare client, the same httpx client calling directly", 40, 1, ((None, 30),)),
    Scenario("few breaks among many direct calls, the same client", 3, 1, ((None, 60),)),
    Scenario("no break: connected orders, curl and a fuzzer", 0, 40, (("curl/8.5.0", 30), ("schemathesis/4.32.5", 30))),
)


async def orders(recorder: Recorder, broken: int, connected: int, draws: random.Random) -> None:
    """checkout's orders, in a seeded order; the broken ones call inventory through a bare client."""
    async with inventory_client(recorder) as instrumented, inventory_client(recorder, instrumented=False) as bare:
        kinds = ["connected"] * connected + ["broken"] * broken
        draws.shuffle(kinds)
        kinds.insert(0, "connected")  # the address book learns where checkout calls from
        for kind in kinds:
            with checkout_request(recorder):
                await asyncio.sleep(draws.uniform(0.002, 0.006))
                (await (bare if kind == "broken" else instrumented).get(f"/stock/item-123?by={kind}")).raise_for_status()
                await asyncio.sleep(draws.uniform(0.002, 0.006))
            await asyncio.sleep(draws.uniform(0.02, 0.06))


async def direct_calls(recorder: Recorder, agent: str | None, count: int, seconds: float, draws: random.Random) -> None:
    """``count`` direct calls to inventory from outside any request, at random moments over ``seconds``."""
    headers = {"user-agent": agent} if agent else {}
    transport = httpx.ASGITransport(app=inventory_app(recorder))
    async with httpx.AsyncClient(transport=transport, base_url="http://inventory", headers=headers) as client:
        for _ in range(count):
            await asyncio.sleep(draws.uniform(0, 2 * seconds / max(1, count)))
            await client.get("/stock/item-123?by=direct")


async def run(scenario: Scenario, seed: int) -> Recorder:
    recorder = Recorder()
    draws = random.Random(seed)
    seconds = (scenario.broken_orders + scenario.connected_orders + 1) * 0.05
    await asyncio.gather(
        orders(recorder, scenario.broken_orders, scenario.connected_orders, random.Random(draws.random())),
        *(direct_calls(recorder, agent, n, seconds, random.Random(draws.random())) for agent, n in scenario.direct),
    )
    recorder.shutdown()
    return recorder


def judge(scenario: Scenario, seed: int) -> dict[str, Any]:
    recorder = asyncio.run(run(scenario, seed))
    traces = recorder.traces()
    roots = [s for spans in traces.values() for s in spans if (s.service, s.kind, s.parent_id) == ("inventory", "server", None)]
    # Each request says who made it in its query (?by=broken, ?by=direct), which the doctor does not read.
    labelled_breaks = {s.trace_id for s in roots if str(s.attributes.get("http.url", "")).endswith("?by=broken")}
    d = diagnose(traces)
    named = {o.trace_id for b in d.breaks if b.kind is BreakKind.NO_CLIENT_SPAN for o in b.breaks}
    others = [b.kind.value for b in d.breaks if b.kind is not BreakKind.NO_CLIENT_SPAN]
    doubts = {doubt.trace_id for doubt in d.doubts}
    right = len(named & labelled_breaks)
    return {
        "scenario": scenario.name,
        "seed": seed,
        "roots": len(roots),
        "breaks": len(labelled_breaks),
        "named": len(named),
        "named_rightly": right,
        "precision": round(right / len(named), 3) if named else None,
        "recall": round(right / len(labelled_breaks), 3) if labelled_breaks else None,
        "doubts": len(doubts),
        "doubts_that_were_breaks": len(doubts & labelled_breaks),
        "other_kinds_named": others,
    }


def main() -> int:
    runs = []
    for scenario in SCENARIOS:
        for seed in SEEDS:
            result = judge(scenario, seed)
            runs.append(result)
            print(
                f"{scenario.name:60} seed {seed}: {result['breaks']:>3} breaks, named {result['named']:>3} "
                f"(precision {result['precision']}, recall {result['recall']}), doubts {result['doubts']}",
                flush=True,
            )
    RESULTS.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
