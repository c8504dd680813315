"""A trace as a tree with a bar per span drawn to scale, and its log lines, for the terminal.

Rendering is rich's: a :class:`rich.tree.Tree` of spans whose every label
is a one-row grid (name, service, start, duration, status, and a
:class:`rich.bar.Bar` at the span's offset in the trace); the name column is
narrower by the tree's indent at each depth, so the other columns line up.
A span whose parent is not in the trace (the parent's service exported
nothing, or the trace is still arriving) is shown as a root too, marked
"parent missing".
"""

from __future__ import annotations

from collections.abc import Collection

from rich.bar import Bar
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from traceproof.logs import LogLine
from traceproof.spans import Span
from traceproof.text import plural

_STATUS_STYLE = {"error": "bold red", "ok": "green", "unset": "dim"}
_SERVICE_STYLES = ("cyan", "magenta", "yellow", "blue", "green")


def _tree(spans: list[Span]) -> tuple[dict[str | None, list[Span]], dict[str, int]]:
    """Children by parent (roots under None, each list by start time) and each span's depth.

    A span whose parent is not in the trace is a root here too (see the module's docstring).
    """
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[Span]] = {}
    for span in sorted(spans, key=lambda s: (s.start_ns, s.end_ns)):
        children.setdefault(span.parent_id if span.parent_id in ids else None, []).append(span)
    depth: dict[str, int] = {}
    pending = [(root, 0) for root in children.get(None, [])]
    while pending:
        span, level = pending.pop()
        depth[span.span_id] = level
        pending += [(child, level + 1) for child in children.get(span.span_id, [])]
    return children, depth


def _ms(ns: int) -> str:
    return f"{ns / 1e6:,.1f} ms"


#: rich's Tree indents each level by this many columns.
_TREE_INDENT = 4


def render_trace(spans: list[Span], bar_width: int = 32, compact: bool = False, marked: Collection[str] = ()) -> RenderableType:
    """The waterfall: a rich Tree of spans, each a row of columns lined up across depths, its error below it.

    Each node's label is a grid whose first column is narrower by the tree's
    indent at that depth, so the service, timing, status and bar columns line
    up whatever the nesting. ``compact`` (for two traces side by side) folds
    the service into the span column and leaves out the start offset, which
    the bar shows anyway. Spans whose ids are in ``marked`` end their name with ◀
    (what a failed assertion was about).
    """
    start = min(s.start_ns for s in spans)
    total = max(max(s.end_ns for s in spans) - start, 1)
    colours = {svc: _SERVICE_STYLES[i % len(_SERVICE_STYLES)] for i, svc in enumerate(sorted({s.service for s in spans}))}
    children, depth = _tree(spans)

    def name(span: Span) -> Text:
        text = Text(f"{span.kind} ", style="dim") + Text(span.name, style="bold")
        if compact:
            text.append(f" {span.service}", style=colours[span.service])
        if span.parent_id is not None and depth[span.span_id] == 0:
            text.append(" (parent missing)", style="yellow")
        if span.span_id in marked:
            text.append(" ◀", style="bold yellow")
        return text

    def cells(span: Span) -> list[RenderableType]:
        where: list[RenderableType] = (
            [] if compact else [Text(span.service, style=colours[span.service]), f"+{_ms(span.start_ns - start)}"]
        )
        bar = Bar(
            size=total,
            begin=span.start_ns - start,
            end=max(span.end_ns, span.start_ns + 1) - start,
            width=bar_width,
            color="red" if span.status == "error" else colours[span.service],
        )
        return [*where, _ms(span.duration_ns), Text(span.status.upper(), style=_STATUS_STYLE.get(span.status, "")), bar]

    headers = ([] if compact else ["service", "start"]) + ["duration", "status", f"0 … {_ms(total)}"]
    rows = {s.span_id: cells(s) for s in spans}
    # Every column as wide as its widest cell; the bar's is fixed.
    widths = [max(len(title), *(Text(str(row[i])).cell_len for row in rows.values())) for i, title in enumerate(headers[:-1])]
    widths.append(bar_width)
    name_width = max(name(s).cell_len + _TREE_INDENT * depth[s.span_id] for s in spans)
    right = {"start", "duration"}

    def row(first: RenderableType, level: int, rest: list[RenderableType], header: bool = False) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=name_width - _TREE_INDENT * level, no_wrap=True)
        for title, width in zip(headers, widths, strict=True):
            grid.add_column(width=width, no_wrap=True, justify="right" if title in right else "left")
        grid.add_row(first, *rest, style="bold" if header else "")
        return grid

    def label(span: Span) -> RenderableType:
        line = row(name(span), depth[span.span_id], rows[span.span_id])
        if span.error is None:
            return line
        kind, message = span.error
        kind = f"HTTP {kind}" if kind.isdigit() else kind  # error.type of a failed HTTP exchange is its status
        return Group(line, Text(f"  ✗ {kind}{': ' + message if message else ''}", style="red"))

    tree = Tree("", hide_root=True, guide_style="dim")
    pending = [(tree, root) for root in reversed(children.get(None, []))]
    while pending:
        parent, span = pending.pop()
        node = parent.add(label(span))
        pending += [(node, child) for child in reversed(children.get(span.span_id, []))]
    return Group(row("span", 0, list(headers), header=True), tree)


def render_logs(lines: list[LogLine]) -> RenderableType:
    """The trace's log lines of every service, in time order; a traceback's last line shown."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("time", no_wrap=True)
    table.add_column("service")
    table.add_column("level")
    table.add_column("message")
    for line in lines:
        message = Text(line.message)
        if line.exception:
            message.append("\n" + line.exception.strip().splitlines()[-1], style="red")
        level_style = "bold red" if line.level in ("error", "critical") else "yellow" if line.level == "warning" else ""
        table.add_row(line.time, line.service, Text(line.level, style=level_style), message)
    return table


def summary(trace_id: str, spans: list[Span], link: str | None) -> Text:
    """The trace's headline: its id, how many spans of which services, how long, how many in error; its link below."""
    text = Text.assemble(("trace ", "bold"), (trace_id, "bold cyan"))
    if not spans:
        text.append("  no span")
    else:
        start = min(s.start_ns for s in spans)
        total = max(s.end_ns for s in spans) - start
        errors = sum(1 for s in spans if s.status == "error")
        services = ", ".join(sorted({s.service for s in spans}))
        text.append(f"  {plural(len(spans), 'span')} in {services}, {_ms(total)}, ")
        text.append(f"{errors} in error" if errors else "no errors", style="bold red" if errors else "green")
    if link:
        text.append(f"\n{link}", style="underline")
    return text


def render(
    trace_id: str,
    spans: list[Span],
    link: str | None = None,
    lines: list[LogLine] | None = None,
    logs_note: str | None = None,
    marked: Collection[str] = (),
) -> Group:
    """The one drawing of a trace (`make trace`, a failed assertion): its headline and link, the waterfall
    with the spans whose ids are in ``marked`` marked, and its log lines (``None``: no log source, ``logs_note`` says why)."""
    parts: list[RenderableType] = [summary(trace_id, spans, link)]
    if spans:
        parts += [Text(), render_trace(spans, marked=marked)]
    note = f" ({logs_note})" if logs_note else ""
    if lines is None:
        if logs_note:
            parts += [Text(), Text(f"logs: {logs_note}", style="yellow")]
    elif not lines:
        parts += [Text(), Text(f"no log line carries trace {trace_id}{note}", style="yellow")]
    else:
        parts += [Text(), Text(f"log lines of trace {trace_id}, in time order{note}", style="bold"), render_logs(lines)]
    return Group(*parts)
