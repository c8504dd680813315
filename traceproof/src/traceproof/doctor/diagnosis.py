"""A window's verdict: every break grouped by kind and place, and per edge and per service how many traces held together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from traceproof.doctor.addresses import AddressBook
from traceproof.doctor.findings import Break, BreakKind, Doubt, EntryPoint, Side
from traceproof.doctor.index import TraceIndex
from traceproof.doctor.rules import Facts, lost_parents, not_propagated, roots_of_requests, roots_of_work
from traceproof.spans import Span

Edge = tuple[str, str]


@dataclass(frozen=True)
class Tally:
    """Traces checked, and how many of them broke; the rest held together."""

    checked: int
    broken: int

    @property
    def connected(self) -> int:
        return self.checked - self.broken


@dataclass(frozen=True)
class BreakGroup:
    """The breaks of one kind at one place (service, peer, which end): every one of them, and their advice."""

    kind: BreakKind
    service: str
    peer: str | None
    edge: Edge | None
    side: Side
    message: bool
    breaks: tuple[Break, ...]

    @property
    def count(self) -> int:
        return len(self.breaks)

    @property
    def trace_ids(self) -> list[str]:
        """The pieces that broke off (or the traces missing a parent), once each, in the order found."""
        return list(dict.fromkeys(o.trace_id for o in self.breaks))

    @property
    def evidence(self) -> str:
        return self.breaks[0].evidence

    @property
    def advice(self) -> tuple[str, str]:
        """(likely cause, fix), one sentence each: the same for every break of the group."""
        return self.breaks[0].advice


@dataclass(frozen=True)
class Diagnosis:
    """The doctor's judgement of a window of traces."""

    #: Traces judged, and how many of them a break involves.
    traces_checked: int
    traces_broken: int
    #: Every break, grouped by kind and place, the largest group first.
    breaks: list[BreakGroup]
    #: Per service and per edge (caller, callee): traces checked and broken.
    services: dict[str, Tally]
    edges: dict[Edge, Tally]
    #: Root spans where a trace rightly begins, and those that may be breaks the evidence cannot settle.
    entry_points: list[EntryPoint]
    doubts: list[Doubt]
    #: Which address is whose, learnt from the calls that connected.
    addresses: AddressBook

    @property
    def traces_connected(self) -> int:
        return self.traces_checked - self.traces_broken

    def traces_of(self, kind: BreakKind) -> set[str]:
        return {trace_id for b in self.breaks if b.kind is kind for trace_id in b.trace_ids}


def diagnose(traces: Mapping[str, Sequence[Span]], skew_ns: int = 0) -> Diagnosis:
    """Judge a window's traces (by id): ``skew_ns`` is how far apart the services' clocks may be."""
    index = TraceIndex(traces)
    facts = Facts.of(index, skew_ns)
    lost, continued = lost_parents(facts)
    unsent, taken = not_propagated(facts)
    bare, request_entries, doubts = roots_of_requests(facts, taken)
    adrift, work_entries = roots_of_work(facts)
    occurrences = lost + unsent + bare + adrift
    involved = {t for o in occurrences for t in (o.trace_id, o.split_from) if t is not None}
    return Diagnosis(
        traces_checked=len(index.traces),
        traces_broken=len(involved),
        breaks=_grouped(occurrences),
        services=_by_service(index, involved),
        edges=_by_edge(index, occurrences),
        entry_points=continued + request_entries + work_entries,
        doubts=doubts,
        addresses=facts.book,
    )


def _by_service(index: TraceIndex, involved: set[str]) -> dict[str, Tally]:
    checked: dict[str, int] = {}
    broken: dict[str, int] = {}
    for trace_id, spans in index.traces.items():
        for service in {s.service for s in spans}:
            checked[service] = checked.get(service, 0) + 1
            broken[service] = broken.get(service, 0) + (trace_id in involved)
    return {service: Tally(checked[service], broken[service]) for service in sorted(checked)}


def _by_edge(index: TraceIndex, occurrences: list[Break]) -> dict[Edge, Tally]:
    """Per (caller, callee): requests whose calls all held, and requests where one broke."""
    connected: dict[Edge, set[str]] = {}
    for call, callee in index.remote_calls():
        connected.setdefault((call.service, callee.service), set()).add(call.trace_id)
    broken: dict[Edge, set[str]] = {}
    for o in occurrences:
        if o.edge is not None:
            broken.setdefault(o.edge, set()).add(o.request_trace)
            connected.get(o.edge, set()).difference_update({o.trace_id, o.request_trace})
    edges = sorted(set(connected) | set(broken))
    return {edge: Tally(len(connected.get(edge, ())) + len(broken.get(edge, ())), len(broken.get(edge, ()))) for edge in edges}


def _grouped(breaks: list[Break]) -> list[BreakGroup]:
    groups: dict[tuple[BreakKind, str, str | None, Edge | None, Side, bool], list[Break]] = {}
    for b in breaks:
        groups.setdefault((b.kind, b.service, b.peer, b.edge, b.side, b.message), []).append(b)
    grouped = [BreakGroup(*place, breaks=tuple(found)) for place, found in groups.items()]
    return sorted(grouped, key=lambda g: (-g.count, g.kind, g.service, g.peer or ""))
