"""A pitfall's story: run once broken and once fixed, each on a fresh recorder, and shown side by side.

The spans come from :mod:`examples.pitfalls.recorder`; a story that calls
inventory uses :mod:`examples.pitfalls.downstream`. In export mode
(:mod:`examples.pitfalls.export`) each run also sends its spans and prints
the line that names its traces.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from examples.pitfalls.export import export_requested
from examples.pitfalls.recorder import Recorder
from traceproof.spans import Span
from traceproof.text import wide_console
from traceproof.waterfall import render_trace


@dataclass(frozen=True)
class Outcome:
    """One run of a story: its spans, grouped by trace."""

    label: str
    traces: dict[str, list[Span]]

    @property
    def trace_count(self) -> int:
        return len(self.traces)

    def verdict(self) -> str:
        n = self.trace_count
        return "1 trace" if n == 1 else f"{n} traces"


#: One run of an example: what happens in checkout (and beyond) for one request.
Story = Callable[["Recorder"], Coroutine[Any, Any, None]]


def run_story(label: str, story: Story) -> Outcome:
    """Run one async story on a fresh event loop and recorder; its traces once every span has ended.

    Export mode is read as each run starts, as a process reads its settings:
    each run is a fresh set of providers.
    """
    recorder = Recorder(exporting=export_requested())
    asyncio.run(story(recorder))
    recorder.shutdown()
    if recorder.exporting:
        print(recorder.export(label).line(), flush=True)
    return Outcome(label, recorder.traces())


def show(title: str, lesson: str, broken: Outcome, fixed: Outcome, console: Console | None = None) -> None:
    """The broken and the fixed trace side by side, each trace in a box of its own."""
    console = console or wide_console(200)

    def column(outcome: Outcome, style: str) -> Panel:
        boxes = [
            Panel(render_trace(spans, bar_width=12, compact=True), title=f"trace {trace_id[:8]}…", title_align="left")
            for trace_id, spans in outcome.traces.items()
        ]
        return Panel(Group(*boxes), title=f"{outcome.label}: {outcome.verdict()}", title_align="left", border_style=style)

    side_by_side = Table.grid(expand=True, padding=(0, 1))
    side_by_side.add_column(ratio=1)
    side_by_side.add_column(ratio=1)
    side_by_side.add_row(column(broken, "red"), column(fixed, "green"))
    console.rule(f"[bold]{title}")
    console.print(Text(lesson, style="dim"))
    console.print(side_by_side)


def checkout_request(recorder: Recorder) -> AbstractContextManager[trace.Span]:
    """The incoming request every story starts from: checkout's SERVER span, made current."""
    return recorder.tracer().start_as_current_span("POST /checkout", kind=trace.SpanKind.SERVER)


def main(title: str, lesson: str, *pairs: tuple[Outcome, Outcome]) -> None:
    """An example's ``python -m``: each broken/fixed pair side by side."""
    for broken, fixed in pairs:
        show(title, lesson, broken, fixed)
