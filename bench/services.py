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
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.processes import ROOT, ServiceProcess

__all__ = ["ROOT", "VARIANTS", "Endpoints", "Pair", "process_cpu_s", "rss_mb", "running_pair"]

#: What each variant adds to the environment (and, for zero-code, in front of the command).
VARIANTS = ("traced", "untraced", "zero-code", "traced-no-journal")


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
    if variant == "traced-no-journal":
        # Traced as shipped but without the span journal (shoptrace.span_journal): its cost, A/B in one round.
        return [], {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoints.otlp_endpoint, "SPAN_JOURNAL_MB": "0"}
    if variant == "untraced":
        return [], {"OTEL_SDK_DISABLED": "true"}
    if variant == "zero-code":
        # Default settings, except the two signals our Collector has no pipeline for:
        # exporting them would only fail and retry.
        instrument = str(Path(sys.executable).parent / "opentelemetry-instrument")
        return [instrument], {"OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    raise ValueError(f"unknown variant {variant!r}: expected one of {', '.join(VARIANTS)}")


def rss_mb(service: ServiceProcess) -> float:
    """Resident memory now, from /proc (VmRSS)."""
    for line in Path(f"/proc/{service.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {service.module}")


def process_cpu_s(pid: int) -> float:
    """User + system CPU time of a process and all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Pair:
    variant: str
    inventory: ServiceProcess
    checkout: ServiceProcess

    def services(self) -> dict[str, ServiceProcess]:
        return {"checkout": self.checkout, "inventory": self.inventory}


@contextmanager
def running_pair(variant: str, endpoints: Endpoints, work_dir: Path, db_name: str) -> Iterator[Pair]:
    """inventory, then checkout calling it, both in ``variant``; stopped on the way out.

    Each pair gets a fresh database (``db_name``) and a span journal directory of its own,
    so no run inherits the reservations of the one before, nor sends in its measured window
    the spans a run before it left undelivered.
    """
    command, extra = _variant_env(variant, endpoints)
    db = work_dir / db_name
    for path in work_dir.glob(f"{db_name}*"):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    extra = {"SPAN_JOURNAL_DIR": str(work_dir / f"{db_name}.journal"), **extra}
    inventory = ServiceProcess(
        "inventory",
        endpoints.inventory_port,
        {
            **extra,
            "OTEL_SERVICE_NAME": "bench-inventory",
            "INVENTORY_PORT": str(endpoints.inventory_port),
            "INVENTORY_DB": str(db),
        },
        work_dir,
        command,
    )
    checkout = ServiceProcess(
        "checkout",
        endpoints.checkout_port,
        {
            **extra,
            "OTEL_SERVICE_NAME": "bench-checkout",
            "CHECKOUT_PORT": str(endpoints.checkout_port),
            "INVENTORY_URL": inventory.url,
        },
        work_dir,
        command,
    )
    started: list[ServiceProcess] = []
    try:
        for service in (inventory, checkout):
            started.append(service)
            service.start(wait_s=30.0)
        yield Pair(variant, inventory, checkout)
    finally:
        for service in reversed(started):
            service.terminate()
