"""The bench's settings, from the environment: ``make bench`` for the numbers, BENCH_SMOKE=1 to keep it working."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.services import ROOT, VARIANTS, Endpoints

RESULTS_DIR = ROOT / "bench" / "results"


def _number(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    smoke: bool
    rounds: int
    #: Seconds of each measured wrk run (and of the warm-up before them).
    duration_s: float
    warmup_s: float
    #: The one traced run whose spans are all counted in Jaeger.
    loss_duration_s: float
    ttq_traces: int
    #: Seconds of the traced run at the fixed rate whose memory is watched; 0: none.
    soak_s: float
    #: Whether to time ``docker compose up --wait`` (taking the stack down first).
    compose_up: bool
    connections: int
    variants: tuple[str, ...]
    #: Requests per second of the fixed-rate runs; 0: half the traced maximum, measured first.
    fixed_rate: float
    endpoints: Endpoints
    jaeger_url: str
    results: Path

    @classmethod
    def from_env(cls) -> Settings:
        smoke = os.environ.get("BENCH_SMOKE", "") not in ("", "0", "false")
        variants = tuple(v.strip() for v in os.environ.get("BENCH_VARIANTS", ",".join(VARIANTS)).split(",") if v.strip())
        unknown = set(variants) - set(VARIANTS)
        if unknown or "traced" not in variants:
            raise ValueError(f"BENCH_VARIANTS must include traced and only {', '.join(VARIANTS)}")
        return cls(
            smoke=smoke,
            rounds=int(_number("BENCH_ROUNDS", 1 if smoke else 3)),
            duration_s=_number("BENCH_DURATION_S", 2 if smoke else 10),
            warmup_s=_number("BENCH_WARMUP_S", 1 if smoke else 2),
            loss_duration_s=_number("BENCH_LOSS_S", 3 if smoke else 60),
            ttq_traces=int(_number("BENCH_TTQ_TRACES", 5 if smoke else 50)),
            soak_s=_number("BENCH_SOAK_S", 10 if smoke else 600),
            compose_up=os.environ.get("BENCH_COMPOSE_UP", "1").strip().lower() not in ("", "0", "false"),
            connections=int(_number("BENCH_CONNECTIONS", 8)),
            variants=variants,
            fixed_rate=_number("BENCH_FIXED_RATE", 0),
            endpoints=Endpoints(
                checkout_port=int(_number("BENCH_CHECKOUT_PORT", 18080)),
                inventory_port=int(_number("BENCH_INVENTORY_PORT", 18081)),
                otlp_endpoint=os.environ.get("BENCH_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ),
            jaeger_url=os.environ.get("JAEGER_URL", "http://127.0.0.1:16686").rstrip("/"),
            # The smoke never overwrites the committed results.
            results=Path(os.environ.get("BENCH_RESULTS", RESULTS_DIR / ("smoke.json" if smoke else "latest.json"))),
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
