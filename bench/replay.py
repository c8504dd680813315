"""The Collector's file, replayed faster: real spans of the stack, copied with fresh trace ids and times shifted to now.

``make bench-watch`` needs span rates the two services cannot make on this
machine, and spans shaped like theirs (attributes, events, the mix's
crashes and timeouts), since what the watcher costs depends on both. So a
sample of the stack's own traffic, as the Collector wrote it, is kept to its
whole traces (every parent present, one root: a piece cut off at the edge
of the sample would be judged a break) and turned into templates: each line
a JSON text with slots for trace ids and times. A :class:`Replay` writes the
sample ``copies`` times over at once, pass after pass, each copy of each
pass with trace ids of its own drawn from a seeded generator, each line
when its spans would have reached the file: the sample's rate times
``copies``, for as long as asked.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: A slot in a template: a trace id (``T`` and its number) or a time (``t`` and its offset in ns from the sample's start).
_SLOT = re.compile(r"@@([Tt])(-?\d+)@@")
_TIMES = ("startTimeUnixNano", "endTimeUnixNano", "timeUnixNano")


@dataclass(frozen=True)
class Template:
    """One line of the Collector's file with slots; ``at_ns``: when it was written, from the sample's start."""

    at_ns: int
    chunks: tuple[str, ...]
    spans: int


@dataclass(frozen=True)
class Sample:
    templates: tuple[Template, ...]
    duration_ns: int
    trace_ids: int

    @property
    def spans(self) -> int:
        return sum(t.spans for t in self.templates)

    @property
    def spans_per_s(self) -> float:
        return self.spans / (self.duration_ns / 1e9)


def _spans(batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for resource_spans in batch.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            yield from scope_spans.get("spans", ())


def whole_traces(batches: list[dict[str, Any]], start_ns: int, end_ns: int) -> set[str]:
    """Trace ids whose root started in ``[start_ns, end_ns]`` and whose every parent is among their spans."""
    ids: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    roots: dict[str, list[int]] = {}
    for batch in batches:
        for span in _spans(batch):
            trace_id = span["traceId"]
            ids.setdefault(trace_id, set()).add(span["spanId"])
            if span.get("parentSpanId"):
                parents.setdefault(trace_id, set()).add(span["parentSpanId"])
            else:
                roots.setdefault(trace_id, []).append(int(span["startTimeUnixNano"]))
    return {
        t
        for t, starts in roots.items()
        if len(starts) == 1 and start_ns <= starts[0] <= end_ns and parents.get(t, set()) <= ids[t]
    }


def sample(folder: Path, start_ns: int, end_ns: int) -> Sample:
    """The whole traces of ``[start_ns, end_ns]`` in the Collector's files under ``folder``, as templates."""
    batches = [json.loads(line) for path in sorted(folder.iterdir()) for line in path.read_text().splitlines() if line.strip()]
    keep = whole_traces(batches, start_ns, end_ns)
    numbers = {trace_id: n for n, trace_id in enumerate(sorted(keep))}
    templates = []
    for batch in batches:
        spans = 0
        last_end = 0
        for resource_spans in batch.get("resourceSpans", ()):
            for scope_spans in resource_spans.get("scopeSpans", ()):
                kept = [s for s in scope_spans.get("spans", ()) if s["traceId"] in keep]
                scope_spans["spans"] = kept
                for span in kept:
                    spans += 1
                    last_end = max(last_end, int(span["endTimeUnixNano"]))
                    _slot(span, numbers, start_ns)
        if spans:
            text = json.dumps(batch, separators=(",", ":"))
            templates.append(Template(last_end - start_ns, tuple(_SLOT.split(text)), spans))
    templates.sort(key=lambda t: t.at_ns)
    return Sample(tuple(templates), end_ns - start_ns, len(keep))


def _slot(span: dict[str, Any], numbers: dict[str, int], start_ns: int) -> None:
    """Put slots where a copy's own trace id and times go (the span's, its events', its links' to a kept trace)."""
    span["traceId"] = f"@@T{numbers[span['traceId']]}@@"
    for item in (span, *span.get("events", ())):
        for key in _TIMES:
            if key in item:
                item[key] = f"@@t{int(item[key]) - start_ns}@@"
    for link in span.get("links", ()):
        if link.get("traceId") in numbers:
            link["traceId"] = f"@@T{numbers[link['traceId']]}@@"


class Replay:
    """Writes ``sample`` ``copies`` times over into ``path``, pass after pass, pass ``p``'s times shifted so that it
    starts at ``begin_ns + p * duration``."""

    def __init__(self, sample: Sample, copies: int, path: Path, begin_ns: int, seed: int) -> None:
        self.sample = sample
        self.copies = copies
        self.path = path
        self.begin_ns = begin_ns
        self.rng = random.Random(seed)
        self.lines = 0
        self.spans = 0
        self._pass = 0
        self._next = 0  # the next template of the current pass
        self._ids = self._draw()

    def _draw(self) -> list[list[str]]:
        """Each copy's trace ids for one pass."""
        return [[f"{self.rng.getrandbits(128):032x}" for _ in range(self.sample.trace_ids)] for _ in range(self.copies)]

    @property
    def due_ns(self) -> int:
        """When the next line falls due."""
        return self.begin_ns + self._pass * self.sample.duration_ns + self.sample.templates[self._next].at_ns

    def _render(self, template: Template, base: int, ids: list[str]) -> str:
        chunks = template.chunks
        out = [chunks[0]]
        for i in range(1, len(chunks), 3):
            kind, number = chunks[i], int(chunks[i + 1])
            out.append(ids[number] if kind == "T" else str(base + number))
            out.append(chunks[i + 2])
        return "".join(out)

    def write_until(self, until_ns: int) -> None:
        """Append every line due by ``until_ns``, all its copies."""
        with self.path.open("a") as file:
            while self.due_ns <= until_ns:
                base = self.begin_ns + self._pass * self.sample.duration_ns
                template = self.sample.templates[self._next]
                file.write("".join(self._render(template, base, ids) + "\n" for ids in self._ids))
                self.lines += self.copies
                self.spans += template.spans * self.copies
                self._next += 1
                if self._next == len(self.sample.templates):
                    self._pass, self._next, self._ids = self._pass + 1, 0, self._draw()

    def run(self, until_ns: int) -> None:
        """Write as the lines fall due, from now until ``until_ns`` (the pace of a writer, not a wait on a condition)."""
        while (now := time.time_ns()) < until_ns:
            self.write_until(now)
            time.sleep(max(0.0, min(self.due_ns, until_ns) - time.time_ns()) / 1e9)
