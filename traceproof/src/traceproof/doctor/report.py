"""The doctor's answer: a few tables and the breaks for a person, the same facts as JSON for a machine, and the verdict."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from traceproof.doctor.diagnosis import BreakGroup, Diagnosis, Tally
from traceproof.doctor.examine import Examination
from traceproof.doctor.findings import BreakKind
from traceproof.jaeger import rfc3339
from traceproof.text import plural

#: Example traces shown per break (each with its other half).
EXAMPLES = 3
#: Rows of entry points and doubts shown per table; the JSON has them all.
ROWS = 8

Link = Callable[[str], str]

#: Exit statuses: nothing broken, something broken, cannot tell.
CLEAN, BROKEN, CANNOT_TELL = 0, 1, 2


def verdict(exam: Examination, source: str, window: str) -> tuple[int, str]:
    """The exit status and the sentence that goes with it; ``window`` as a person reads it (``the last 15m``)."""
    d = exam.diagnosis
    if d.traces_checked == 0:
        lost = exam.pipeline.lost if exam.pipeline else 0
        pipeline = f" The Collector's counters show {plural(lost, 'span')} lost in that time." if lost else ""
        return CANNOT_TELL, (
            f"{source[:1].upper()}{source[1:]} holds no trace that started in {window}{_of(exam)}: nothing to judge.{pipeline} "
            "Send some requests through your services, or widen the window with --since."
        )
    if d.breaks:
        kinds = sorted({b.kind.value for b in d.breaks})
        return BROKEN, (
            f"Broken context in {plural(d.traces_broken, 'trace')} of {d.traces_checked:,}: "
            f"{plural(sum(b.count for b in d.breaks), 'break')} ({', '.join(kinds)}), each named above with its fix."
        )
    doubts = f" {plural(len(d.doubts), 'root')} above could not be told apart: have a look." if d.doubts else ""
    return CLEAN, f"No broken context in {d.traces_checked:,} traces.{doubts}"


def _of(exam: Examination) -> str:
    """`` of a or b`` when the window was read for the services a and b only."""
    services = exam.services
    return f" of {' or '.join(services)}" if services else ""


def _entry_points(d: Diagnosis) -> dict[tuple[str, str], Counter[str]]:
    """Entry points by (service, why), each with the caller addresses it came from ("" where it names none); most first."""
    found: dict[tuple[str, str], Counter[str]] = {}
    for e in d.entry_points:
        found.setdefault(e.reason, Counter())[e.address or ""] += 1
    return dict(sorted(found.items(), key=lambda item: -sum(item[1].values())))


# -- JSON ------------------------------------------------------------------------------


def _tally(tally: Tally) -> dict[str, int]:
    return {"traces_checked": tally.checked, "connected": tally.connected, "broken": tally.broken}


def _break_json(b: BreakGroup, link: Link) -> dict[str, Any]:
    cause, fix = b.advice
    return {
        "kind": b.kind.value,
        "service": b.service,
        "peer": b.peer,
        "edge": {"caller": b.edge[0], "callee": b.edge[1]} if b.edge else None,
        "side": b.side.value or None,
        "count": b.count,
        "trace_ids": b.trace_ids,
        "occurrences": [{"trace_id": o.trace_id, "span_id": o.span_id, "split_from": o.split_from} for o in b.breaks],
        "examples": [[link(t) for t in (o.split_from, o.trace_id) if t] for o in b.breaks[:EXAMPLES]],
        "evidence": b.evidence,
        "cause": cause,
        "fix": fix,
    }


def as_json(exam: Examination, link: Link) -> dict[str, Any]:
    d, window = exam.diagnosis, exam.window
    missing = d.traces_of(BreakKind.LOST_PARENT)
    doubts: dict[tuple[str, str], list[str]] = {}
    for doubt in d.doubts:
        doubts.setdefault(doubt.reason, []).append(doubt.trace_id)
    return {
        "window": {
            "start": rfc3339(window.start_ns),
            "end": rfc3339(window.end_ns),
            "services": window.services,
            "spans": window.span_count,
            "searches": window.calls,
            "crowded": [{"service": s, "start": rfc3339(a), "end": rfc3339(b)} for s, a, b in window.crowded],
        },
        "traces_checked": d.traces_checked,
        "traces_connected": d.traces_connected,
        "traces_broken": d.traces_broken,
        "edges": [{"caller": a, "callee": b, **_tally(t)} for (a, b), t in d.edges.items()],
        "services": [{"service": s, **_tally(t)} for s, t in d.services.items()],
        "breaks": [_break_json(b, link) for b in d.breaks],
        "lost_parents": {"waited_s": exam.waited_s, "arrived_late": exam.arrived_late, "still_missing": sorted(missing)},
        "pipeline": (
            None
            if exam.pipeline is None
            else {
                "losses": [{"what": x.what, "component": x.component, "spans": x.spans} for x in exam.pipeline.losses],
                "problem": exam.pipeline.problem,
            }
        ),
        "entry_points": [
            {
                "service": service,
                "why": why,
                "count": sum(addresses.values()),
                "addresses": {a: n for a, n in addresses.most_common(ROWS) if a},
            }
            for (service, why), addresses in _entry_points(d).items()
        ],
        "doubts": [{"service": s, "why": why, "count": len(ids), "trace_ids": ids} for (s, why), ids in doubts.items()],
        "addresses": {
            "callers": {address: dict(services) for address, services in d.addresses.callers.items()},
            "endpoints": {endpoint: dict(services) for endpoint, services in d.addresses.endpoints.items()},
        },
    }


# -- for a person ------------------------------------------------------------------------


def _tallies(first: str, rows: list[tuple[str, Tally]]) -> Table:
    table = Table()
    table.add_column(first)
    for column in ("traces", "connected", "broken"):
        table.add_column(column, justify="right")
    for name, tally in rows:
        table.add_row(
            name, f"{tally.checked:,}", f"{tally.connected:,}", Text(f"{tally.broken:,}", style="red" if tally.broken else "")
        )
    return table


def _break(b: BreakGroup, link: Link) -> RenderableType:
    cause, fix = b.advice
    where = f"{b.edge[0]} → {b.edge[1]}" if b.edge else b.service
    head = Text.assemble(
        ("✗ ", "red"),
        (b.kind.value, "bold red"),
        f" · {where} · {plural(b.count, 'time')} · fix in ",
        (b.service, "bold"),
    )
    body = Table.grid(padding=(0, 1))
    body.add_column(style="dim", width=7)
    body.add_column()
    for label, sentence in (("  saw", b.evidence), ("  cause", cause), ("  fix", fix)):
        body.add_row(label, sentence)
    for o in b.breaks[:EXAMPLES]:
        halves = [(o.split_from, "the request"), (o.trace_id, "the piece that broke off")] if o.split_from else [(o.trace_id, "")]
        for i, (trace_id, role) in enumerate(halves):
            body.add_row("  e.g." if i == 0 else "", Text.assemble(link(trace_id or ""), (f"  {role}", "dim")))
    return Group(head, body)


def _lost_parents(exam: Examination) -> RenderableType | None:
    missing = len(exam.diagnosis.traces_of(BreakKind.LOST_PARENT))
    if not missing and not exam.arrived_late:
        return None
    if exam.waited_s:
        text = (
            f"Waited {exam.waited_s:g} s for missing parents: {plural(len(exam.arrived_late), 'trace')} got them (they were on "
            f"their way), {plural(missing, 'trace')} still lack them (dropped)."
        )
    else:
        text = f"{plural(missing, 'trace')} lack a parent; the doctor did not wait to see if they were still on their way."
    return Text(text)


def _pipeline(exam: Examination) -> RenderableType | None:
    if exam.pipeline is None:
        return None
    if exam.pipeline.problem:
        return Text(f"Pipeline: {exam.pipeline.problem}.", style="yellow")
    if not exam.pipeline.losses:
        return Text("Pipeline: the Collector's counters show no span refused, dropped or failed in the window.", style="dim")
    losses = "; ".join(f"{x.spans:,} {x.what} {x.component}" for x in exam.pipeline.losses)
    return Text(f"Pipeline: the Collector's counters show spans lost in the window: {losses}.", style="yellow")


def _reasons(title: str, reasons: dict[tuple[str, str], Counter[str]]) -> Table | None:
    """Rows of (count, service, why, e.g. the addresses), most first."""
    if not reasons:
        return None
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 1))
    table.add_column(justify="right")
    table.add_column()
    table.add_column()
    for (service, why), addresses in list(reasons.items())[:ROWS]:
        named = [f"{address} ({count:,})" for address, count in addresses.most_common(3) if address]
        table.add_row(f"{sum(addresses.values()):,}", service, why + (": " + ", ".join(named) if named else ""))
    if len(reasons) > ROWS:
        table.add_row("", "", f"... and {len(reasons) - ROWS} more (--json lists them all)")
    return table


def _addresses(d: Diagnosis) -> Table:
    table = Table(
        title="Address book (from connected calls)", title_justify="left", title_style="bold", show_header=False, box=None
    )
    table.add_column()
    table.add_column()
    for service in sorted(d.services):
        calls_from = sorted(d.addresses.addresses_of(service))
        answers_at = sorted(e for e, services in d.addresses.endpoints.items() if service in services)
        said = []
        if calls_from:
            said.append("calls from " + ", ".join(calls_from))
        if answers_at:
            said.append("answers at " + ", ".join(answers_at))
        table.add_row(service, "; ".join(said) or Text("no connected call shows its address", style="dim"))
    return table


def render(exam: Examination, source: str, link: Link) -> RenderableType:
    d, window = exam.diagnosis, exam.window
    head = Text(
        f"{source[:1].upper()}{source[1:]}{_of(exam)}, {rfc3339(window.start_ns)[:19]} to {rfc3339(window.end_ns)[:19]} UTC: "
        f"{plural(d.traces_checked, 'trace')}, {plural(window.span_count, 'span')}, {plural(len(window.services), 'service')}",
        style="bold",
    )
    sections: list[RenderableType | None] = [head]
    if window.crowded:
        sections.append(
            Text(f"{len(window.crowded)} slices held more traces than Jaeger answers at once: some may be missing.", "yellow")
        )
    if d.edges:
        sections.append(_tallies("caller → callee", [(f"{a} → {b}", t) for (a, b), t in d.edges.items()]))
    sections.append(_tallies("service", list(d.services.items())))
    sections.extend(_break(b, link) for b in d.breaks)
    sections.append(_lost_parents(exam))
    sections.append(_pipeline(exam))
    doubts: dict[tuple[str, str], Counter[str]] = {}
    for doubt in d.doubts:
        doubts.setdefault((doubt.service, doubt.why), Counter())[""] += 1
    sections.append(_reasons("Doubts (roots the evidence cannot tell apart)", doubts))
    sections.append(_reasons("Entry points (where traces rightly begin)", _entry_points(d)))
    sections.append(_addresses(d))
    spaced: list[RenderableType] = []
    for section in sections:
        if section is not None:
            spaced.extend((section, Text("")))
    return Group(*spaced)


def print_report(console: Console, exam: Examination, source: str, link: Link) -> None:
    console.print(render(exam, source, link))
