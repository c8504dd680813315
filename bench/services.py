"""checkout and inventory as native processes, in one of the three set-ups the bench compares.

Native processes, not the compose containers: the bench measures what
tracing costs a Python process, so nothing else (container networking,
memory limits, the stack's own services under someone else's load) should
weigh on one variant more than on another. They export to the stack's real
Collector all the same, on ports of their own (18080/18081 by default) that
never clash with the stack's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from shoptrace.services import SERVICE_ENV_PREFIXES

ROOT = Path(__file__).resolve().parent.parent

#: What each variant adds to the environment (and, for zero-code, in front of the command).
VARIANTS = ("traced", "untraced", "zero-code")


@dataclass(frozen=True)
class Endpoints:
    checkout_port: int
    inventory_port: int
    #: OTLP/HTTP of the Collector, for our own set-up; zero-code keeps its default (gRPC, localhost:4317).
    otlp_endpoint: str


def _variant_env(variant: str, endpoints: Endpoints) -> tuple[list[str], dict[str, str]]:
    """The command prefix and the environment of one variant."""
    if variant == "traced":
        return [], {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoints.otlp_endpoint}
    if variant == "untraced":
        return [], {"OTEL_SDK_DISABLED": "true"}
    if variant == "zero-code":
        # Default settings, except the two signals our Collector has no pipeline for:
        # exporting them would only fail and retry.
        instrument = str(Path(sys.executable).parent / "opentelemetry-instrument")
        return [instrument], {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    raise ValueError(f"unknown variant {variant!r}: expected one of {', '.join(VARIANTS)}")


class Service:
    """One service process: started, measured (RSS, CPU time) and stopped."""

    def __init__(self, module: str, port: int, command: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.module = module
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"{module}-{port}.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [*command, sys.executable, "-m", module], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.module} did not answer /healthz within {timeout_s:g} s; see {self.log_path}")

    def rss_mb(self) -> float:
        """Resident memory now, from /proc (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.module}")

    def cpu_s(self) -> float:
        return process_cpu_s(self.pid)

    def stop(self) -> None:
        """SIGTERM, as an orchestrator would: the services flush their spans on the way out."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def process_cpu_s(pid: int) -> float:
    """User + system CPU time of a process and all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Pair:
    variant: str
    inventory: Service
    checkout: Service

    def services(self) -> dict[str, Service]:
        return {"checkout": self.checkout, "inventory": self.inventory}


@contextmanager
def running_pair(variant: str, endpoints: Endpoints, work_dir: Path, db_name: str) -> Iterator[Pair]:
    """inventory, then checkout calling it, both in ``variant``; stopped on the way out.

    Each pair gets a fresh database (``db_name``), so no run inherits the
    reservations of the one before.
    """
    command, extra = _variant_env(variant, endpoints)
    base = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_ENV_PREFIXES)}
    base.update(extra)
    db = work_dir / db_name
    for path in work_dir.glob(f"{db_name}*"):
        path.unlink()
    inventory = Service(
        "inventory",
        endpoints.inventory_port,
        command,
        {
            **base,
            "OTEL_SERVICE_NAME": "bench-inventory",
            "INVENTORY_PORT": str(endpoints.inventory_port),
            "INVENTORY_DB": str(db),
        },
        work_dir,
    )
    started = [inventory]
    try:
        inventory.wait_ready()
        checkout = Service(
            "checkout",
            endpoints.checkout_port,
            command,
            {
                **base,
                "OTEL_SERVICE_NAME": "bench-checkout",
                "CHECKOUT_PORT": str(endpoints.checkout_port),
                "INVENTORY_URL": inventory.url,
            },
            work_dir,
        )
        started.append(checkout)
        checkout.wait_ready()
        yield Pair(variant, inventory, checkout)
    finally:
        for service in reversed(started):
            service.stop()
