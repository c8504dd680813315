"""Load from wrk: one endpoint, a fixed number of connections, flat out or at a moderate rate.

wrk rather than a Python load generator: it is written in C and needs a
fraction of a core for thousands of requests per second, so on a two-core
machine it leaves the CPU to the services being measured. Its Lua script
(bench/wrk.lua) sets the request and prints the summary as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"


@dataclass(frozen=True)
class Endpoint:
    """What the bench sends to a service: one request, always the same."""

    service: str
    method: str
    path: str
    body: str = ""


CHECKOUT = Endpoint("checkout", "POST", "/checkout", '{"sku": "item-123", "quantity": 1}')
INVENTORY = Endpoint("inventory", "GET", "/stock/item-123")


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    #: wrk's error counts: connect, read, write, timeout, and status (answers other than 2xx/3xx).
    errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def good_requests(self) -> int:
        return self.requests - self.errors["status"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "latency_ms": self.latency_ms,
        }


def ensure_wrk() -> str:
    """wrk's path, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: apt-get install -y wrk", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "wrk"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is still not on PATH after apt-get install wrk")
    return found


def run_wrk(base_url: str, endpoint: Endpoint, duration_s: float, connections: int, delay_ms: float = 0.0) -> LoadResult:
    """Drive ``endpoint`` for ``duration_s`` with ``connections`` keep-alive connections on one wrk thread.

    ``delay_ms`` > 0: each connection waits that long before each request,
    for a rate of about ``connections / delay``, well below saturation.
    """
    env = {
        **os.environ,
        "BENCH_METHOD": endpoint.method,
        "BENCH_BODY": endpoint.body,
        "BENCH_DELAY_MS": f"{delay_ms:.3f}",
    }
    command = [
        ensure_wrk(), "--threads", "1", "--connections", str(connections),
        "--duration", f"{max(1, round(duration_s))}s", "--timeout", "5s",
        "--script", str(WRK_SCRIPT), base_url + endpoint.path,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    summary = json.loads(line.removeprefix("BENCH_JSON "))
    latency = summary["latency_us"]
    return LoadResult(
        requests=summary["requests"],
        duration_s=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        latency_ms={name: round(value / 1000, 3) for name, value in latency.items()},
    )
