"""``traceproof watch``: the doctor's rules, judged continuously, one window of a trace store after another.

**The schedule.** Every ``every_s`` the watcher judges the window
``[prev_end, now - settle_s)``: consecutive windows that never overlap, each
judged once its end is ``settle_s`` old, so that the spans of its traces have
been exported, batched and stored. It starts at ``now - settle_s``: after a
restart it judges nothing the previous run may have judged, and misses the
traces that began between the previous run's last window and that moment.
A window longer than ``max_window_s`` (after the source was unreachable) is
judged as several, oldest first; one the source finds over its ``max_spans``
budget is halved, down to ``MIN_WINDOW_S``, and skipped (counted) below that.

**Once each.** A window is read with ``context_s`` before it (the requests a
broken call was made during, the calls that teach the address book), but a
trace is counted only by the window that holds its earliest span start, and
a break only by the window that holds the earliest span start of the trace
it names (the piece that broke off, or the trace missing a parent). A trace
straddling two windows is counted once; so is a break the next window's
context shows again.

**Late parents.** A trace whose break is a lost parent may only be slow: its
parent still in a service's buffer or a Collector's queue. Such traces are
held (their ids and the parents they miss, at most ``max_held`` traces), and
their window is read and judged again once, ``late_after_s`` after the first
judgement. A parent that arrived by then was late
(``traceproof_parents_late_total``); a trace still missing one is a
``lost_parent`` break, and its missing parents are lost
(``traceproof_spans_lost_total``).

**Errors.** A source that cannot answer is logged once per kind of error
(again after it recovers), counted, and the window is asked for again at the
next tick; the watcher never stops for it. Nothing here sleeps or reads the
clock but through ``now_ns`` and ``sleep``, so tests drive it tick by tick.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from traceproof.doctor.diagnosis import diagnose
from traceproof.doctor.findings import Break, BreakKind
from traceproof.errors import SourceError, WindowTooLarge
from traceproof.sources import TraceSource
from traceproof.spans import Span

if TYPE_CHECKING:  # the metrics' module imports prometheus_client, which ``traceproof doctor`` never needs
    from prometheus_client import Counter

    from traceproof.watch_metrics import WatchMetrics

#: Seconds between two ticks: the alert's delay is about settle plus this.
EVERY_S = 10.0
#: How old a window's end must be before it is judged: longer than a request (10 s for work after the reply),
#: the SDK's default batch delay (5 s), the Collector's batch and file flush (1 s) and a gateway's decision_wait (10 s).
SETTLE_S = 30.0
#: How long after the first judgement a trace missing a parent is judged again, before its parent counts as lost.
LATE_AFTER_S = 60.0
#: How far before its window a window is read, for evidence only: the longest request a broken call is made in.
CONTEXT_S = 10.0
#: The longest window judged at once (after an outage of the source, the backlog is judged in windows of this length).
MAX_WINDOW_S = 60.0
#: The shortest window a window over the span budget is halved down to; one still over it is skipped.
MIN_WINDOW_S = 1.0
#: Traces held at once for the late re-check.
MAX_HELD = 10_000
#: Breaks kept for ``/breaks``.
RECENT = 100
#: Label sets the labelled metrics may hold together (:class:`~traceproof.watch_metrics.WatchMetrics`): a few per edge.
MAX_SERIES = 1000

log = logging.getLogger("traceproof.watch")


@dataclass(frozen=True)
class Settings:
    """How the watcher schedules, reads and bounds what it holds."""

    every_s: float = EVERY_S
    settle_s: float = SETTLE_S
    late_after_s: float = LATE_AFTER_S
    context_s: float = CONTEXT_S
    max_window_s: float = MAX_WINDOW_S
    max_held: int = MAX_HELD
    recent: int = RECENT
    #: Only the traces touching these services (None: every service).
    services: tuple[str, ...] | None = None
    #: A trace UI's address: ``/breaks`` links ``{link_base}/trace/{id}`` where the source gives no link (a file).
    link_base: str | None = None

    @property
    def retention_s(self) -> float:
        """How long spans held in memory (:class:`~traceproof.file_tail.OtlpFileTail`) are kept after their trace's
        latest end: the oldest start a window or a re-check may still read is settle, late-after (and the tick it
        waits for), the longest window and its context ago."""
        return self.settle_s + self.late_after_s + self.every_s + self.max_window_s + self.context_s


@dataclass(frozen=True)
class SeenBreak:
    """One break as ``/breaks`` shows it."""

    kind: str
    service: str
    peer: str | None
    #: The piece that broke off (or the trace missing a parent), then the trace it broke from, if any.
    trace_ids: tuple[str, ...]
    #: Where a person sees each trace, in the same order (None where the source shows none).
    links: tuple[str | None, ...]
    evidence: str
    #: When the span showing the break started, and when the watcher counted it (ns since the epoch).
    started_ns: int
    judged_ns: int

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "service": self.service,
            "peer": self.peer,
            "trace_ids": list(self.trace_ids),
            "links": list(self.links),
            "evidence": self.evidence,
            "started": iso_time(self.started_ns),
            "judged": iso_time(self.judged_ns),
        }


@dataclass
class _Held:
    """A judged window's traces missing a parent, waiting for their re-check."""

    start_ns: int
    end_ns: int
    due_ns: int
    #: trace id -> service -> (the lost_parent break, the parent ids it missed).
    traces: dict[str, dict[str, tuple[Break, set[str]]]] = field(default_factory=dict)


class Watcher:
    """Judges windows of ``source`` tick by tick into ``metrics`` and a ring of recent breaks."""

    def __init__(
        self,
        source: TraceSource,
        metrics: WatchMetrics,
        settings: Settings | None = None,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        settings = settings or Settings()
        self.source = source
        self.metrics = metrics
        self.settings = settings
        self.now_ns = now_ns
        #: Where the next window starts: now - settle at start, so a restart judges nothing twice.
        self.next_start_ns = now_ns() - _ns(settings.settle_s)
        self._window_ns = _ns(settings.max_window_s)
        self._held: list[_Held] = []
        self._recent: deque[SeenBreak] = deque(maxlen=settings.recent)
        self._lock = threading.Lock()
        self._logged: set[str] = set()
        #: Set once the first window was judged or failed: what ``/healthz`` waits for.
        self.attempted = threading.Event()
        self.last_end_ns: int | None = None
        self.metrics.limit.labels(name="max_held").set(settings.max_held)
        self.metrics.limit.labels(name="recent").set(settings.recent)
        max_spans = getattr(source, "max_spans", None)
        if isinstance(max_spans, int):
            self.metrics.limit.labels(name="max_spans").set(max_spans)

    # -- what the HTTP side reads ------------------------------------------------------

    def recent(self, limit: int | None = None) -> list[SeenBreak]:
        """The most recent breaks, newest first."""
        with self._lock:
            newest = list(reversed(self._recent))
        return newest if limit is None else newest[:limit]

    @property
    def held_traces(self) -> int:
        return sum(len(h.traces) for h in self._held)

    # -- the loop ---------------------------------------------------------------------

    def run(self, sleep: Callable[[float], None] = time.sleep, ticks: int | None = None) -> None:
        """Tick every ``every_s`` (the first after one period), ``ticks`` times or for ever; a late tick runs at once."""
        period = _ns(self.settings.every_s)
        due = self.now_ns() + period
        done = 0
        while ticks is None or done < ticks:
            wait = due - self.now_ns()
            if wait > 0:
                sleep(wait / 1e9)
            self.tick()
            done += 1
            due = max(due + period, self.now_ns())

    def tick(self) -> None:
        """Judge every window that has settled since the last tick, then re-check the lost parents that are due."""
        until = self.now_ns() - _ns(self.settings.settle_s)
        while self.next_start_ns < until:
            end = min(until, self.next_start_ns + self._window_ns)
            if not self._attempt(self.next_start_ns, end):
                break
        self._recheck()
        self.metrics.lag.set(self.lag_s)

    @property
    def lag_s(self) -> float:
        """How far behind real time the judged windows end: settle and a tick's work, more while the source fails."""
        return (self.now_ns() - self.next_start_ns) / 1e9

    def _attempt(self, start_ns: int, end_ns: int) -> bool:
        """Judge one window; whether the schedule may go on past it (false: try it again next tick)."""
        try:
            self._judge(start_ns, end_ns)
        except WindowTooLarge as exc:
            self._failed(self.metrics.windows_failed, exc, "read again in narrower windows")
            if end_ns - start_ns > _ns(MIN_WINDOW_S):
                self._window_ns = max(_ns(MIN_WINDOW_S), (end_ns - start_ns) // 2)
                return True  # the same start again, in a narrower window, at once
            log.error("skipped the window %s to %s: it holds more spans than --max-spans", iso_time(start_ns), iso_time(end_ns))
            self.next_start_ns = end_ns
            return True
        except (SourceError, OSError) as exc:
            self._failed(self.metrics.windows_failed, exc, "asked again next tick")
            return False
        except Exception as exc:  # a window the rules cannot judge: skipped and counted, never the end of the watch
            self._failed(self.metrics.windows_failed, exc, "the window skipped", trace=True)
            self.next_start_ns = end_ns
            return True
        finally:
            self.attempted.set()
        self._logged.clear()
        self._window_ns = min(_ns(self.settings.max_window_s), self._window_ns * 2)
        return True

    def _failed(self, counter: Counter, exc: BaseException, then: str, trace: bool = False) -> None:
        """Count an error by its kind, and log it the first time that kind comes (again after a window is judged)."""
        reason = type(exc).__name__
        counter.labels(reason=reason).inc()
        if reason not in self._logged:
            self._logged.add(reason)
            log.error("%s (%s): counted, %s", exc, reason, then, exc_info=trace)

    # -- one window ------------------------------------------------------------------

    def _read(self, start_ns: int, end_ns: int) -> dict[str, list[Span]]:
        services = list(self.settings.services) if self.settings.services is not None else None
        window = self.source.window(start_ns - _ns(self.settings.context_s), end_ns, services)
        self.metrics.read(window.span_count)
        self.metrics.source_counts(self.source)
        return window.traces

    def _judge(self, start_ns: int, end_ns: int) -> None:
        traces = self._read(start_ns, end_ns)
        diagnosis = diagnose(traces)
        judged_ns = self.now_ns()
        owned = {trace_id for trace_id, spans in traces.items() if start_ns <= _first_start(spans) < end_ns}
        held = _Held(start_ns, end_ns, judged_ns + _ns(self.settings.late_after_s))
        found = []
        for group in diagnosis.breaks:
            for b in group.breaks:
                if b.trace_id not in owned:
                    continue  # another window's to count
                if b.kind is BreakKind.LOST_PARENT:
                    held.traces.setdefault(b.trace_id, {})[b.service] = (b, _missing_parents(traces[b.trace_id], b.service))
                else:
                    found.append(b)
        # Counted only once the whole window is judged: a window that fails is asked again, and counts nothing twice.
        for trace_id in sorted(owned, key=lambda t: (_first_start(traces[t]), t)):  # in time: the cap admits the earliest
            self.metrics.judged(_root_service(traces[trace_id]))
        for b in found:
            self._count(b, traces, judged_ns)
        self._hold(held)
        self.metrics.windows_judged.inc()
        self.last_end_ns = end_ns
        self.next_start_ns = end_ns
        self.metrics.lag.set(self.lag_s)

    def _hold(self, held: _Held) -> None:
        room = self.settings.max_held - self.held_traces
        if len(held.traces) > room:
            refused = sorted(held.traces)[max(0, room) :]
            self.metrics.held_refused.inc(len(refused))
            for trace_id in refused:
                del held.traces[trace_id]
        if held.traces:
            self._held.append(held)
        self.metrics.holding(self.held_traces)

    def _count(self, b: Break, traces: dict[str, list[Span]], judged_ns: int) -> None:
        self.metrics.broke(b.kind.value, b.service, b.peer)
        trace_ids = (b.trace_id, b.split_from) if b.split_from else (b.trace_id,)
        started = next((s.start_ns for s in traces.get(b.trace_id, ()) if s.span_id == b.span_id), judged_ns)
        seen = SeenBreak(
            b.kind.value,
            b.service,
            b.peer,
            trace_ids,
            tuple(self._link(t) for t in trace_ids),
            b.evidence,
            started,
            judged_ns,
        )
        with self._lock:
            self._recent.append(seen)

    def _link(self, trace_id: str) -> str | None:
        base = self.settings.link_base
        return self.source.link(trace_id) or (f"{base.rstrip('/')}/trace/{trace_id}" if base else None)

    # -- the late re-check --------------------------------------------------------------

    def _recheck(self) -> None:
        while self._held and self._held[0].due_ns <= self.now_ns():
            held = self._held[0]
            try:
                traces = self._read(held.start_ns, held.end_ns)
                diagnosis = diagnose(traces)
            except WindowTooLarge as exc:  # grown past the budget since: never to be read whole, so let go
                self._failed(self.metrics.rechecks_failed, exc, "its traces let go, neither lost nor late")
                self._held.pop(0)
                continue
            except (SourceError, OSError) as exc:
                self._failed(self.metrics.rechecks_failed, exc, "asked again next tick")
                return
            except Exception as exc:  # the rules failed on it: let go, never the end of the watch
                self._failed(self.metrics.rechecks_failed, exc, "its traces let go, neither lost nor late", trace=True)
                self._held.pop(0)
                continue
            self._held.pop(0)
            still = {
                (b.trace_id, b.service): b
                for group in diagnosis.breaks
                if group.kind is BreakKind.LOST_PARENT
                for b in group.breaks
                if b.trace_id in held.traces
            }
            judged_ns = self.now_ns()
            for trace_id, by_service in held.traces.items():
                spans = traces.get(trace_id)
                for service, (first, missed) in by_service.items():
                    missing = _missing_parents(spans, service) if spans is not None else missed
                    self.metrics.late(service, len(missed - missing))
                    if spans is None:  # gone from the store: judged on what was read the first time
                        still.setdefault((trace_id, service), first)
                for (lost_trace, service), b in still.items():
                    if lost_trace == trace_id:
                        gone = _missing_parents(spans, service) if spans is not None else by_service[service][1]
                        self.metrics.lost(service, len(gone))
                        self._count(b, traces, judged_ns)
            self.metrics.holding(self.held_traces)


def _ns(seconds: float) -> int:
    return round(seconds * 1e9)


def iso_time(when_ns: int) -> str:
    return datetime.fromtimestamp(when_ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _first_start(spans: Iterable[Span]) -> int:
    return min(s.start_ns for s in spans)


def _root_service(spans: Sequence[Span]) -> str:
    """The service of the trace's root span (the earliest, if several), or of its earliest span when it has none."""
    roots = [s for s in spans if s.parent_id is None] or list(spans)
    return min(roots, key=lambda s: s.start_ns).service


def _missing_parents(spans: Sequence[Span], service: str) -> set[str]:
    """The parent ids that ``service``'s spans of a trace name and the trace does not hold."""
    held = {s.span_id for s in spans}
    return {s.parent_id for s in spans if s.service == service and s.parent_id and s.parent_id not in held}
