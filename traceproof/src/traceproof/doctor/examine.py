"""One examination of a window: read it, judge it, give spans still on their way a moment, ask the pipeline what it lost.

A trace read while some of its spans are in flight (the last seconds of the
window, services that export every few seconds) looks like one whose parent
was lost. So when the first judgement finds lost parents, the doctor waits,
reads those traces again and judges once more: a parent that arrived was on
its way, one that still has not was dropped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

from traceproof.doctor.diagnosis import Diagnosis, diagnose
from traceproof.doctor.findings import BreakKind
from traceproof.doctor.pipeline import PipelineCounters, PipelineHealth
from traceproof.errors import TraceNotFound
from traceproof.sources import TraceSource
from traceproof.window import Window


@dataclass(frozen=True)
class Examination:
    window: Window
    diagnosis: Diagnosis
    #: How long the doctor waited for missing parents (0 when none was missing, or when told not to wait).
    waited_s: float
    #: Traces whose missing parents arrived while it waited.
    arrived_late: list[str]
    #: What the Collector's counters say, when the doctor was told where to read them.
    pipeline: PipelineHealth | None
    #: The services the window was read for (their traces only), or None for every service.
    services: Sequence[str] | None = None


def examine(
    source: TraceSource,
    start_ns: int,
    end_ns: int,
    wait_s: float,
    counters: PipelineCounters | None = None,
    sleep: Callable[[float], None] = time.sleep,
    services: Sequence[str] | None = None,
) -> Examination:
    """Read and judge ``[start_ns, end_ns]`` (the traces that touch ``services``, when given)."""
    window = source.window(start_ns, end_ns, services)
    diagnosis = diagnose(window.traces)
    missing = diagnosis.traces_of(BreakKind.LOST_PARENT)
    waited_s, arrived = 0.0, []
    if missing and wait_s > 0:
        sleep(wait_s)
        waited_s = wait_s
        for trace_id in sorted(missing):
            with suppress(TraceNotFound):  # gone from storage since: judged on what was read
                window.traces[trace_id] = source.trace(trace_id)
        diagnosis = diagnose(window.traces)
        arrived = sorted(missing - diagnosis.traces_of(BreakKind.LOST_PARENT))
    pipeline = counters.health((end_ns - start_ns) / 1e9 + waited_s) if counters is not None else None
    return Examination(window, diagnosis, waited_s, arrived, pipeline, services)
