"""The Collector's file exporter output, tailed: what ``traceproof watch`` reads, each byte parsed once.

:class:`~traceproof.sources.OtlpFileSource` reads every file whole at each
call: right for the doctor's one look, too costly every ``--every`` seconds.
:class:`OtlpFileTail` remembers, per file (by device and inode, so a rotation
that renames ``traces.jsonl`` to ``traces-<time>.jsonl`` and opens a new
``traces.jsonl`` is followed where it was), how many bytes it has read; each
call reads only what was appended since, up to the last whole line (the one
being written is read once it ends), and keeps the spans in memory by trace.
A window is then answered from memory as :func:`~traceproof.sources.gather`
answers it, the same answer the whole-file source gives for the same spans.

**Bounds.** A trace is let go once its latest span ended more than
``retention_s`` ago (the watcher passes ``Settings.retention_s``: settle,
late-after, context, the longest window and a tick, so no window it may
still ask for, re-checks included, reaches before it); a trace idle that
long whose later spans then come is judged without the earlier ones. Beyond
``max_spans`` spans the traces that ended earliest are let go first, and
counted in :attr:`OtlpFileTail.spans_dropped`. A span already past the
retention when read (a backlog read at start) is not kept unless its trace is.

**Bad lines.** A whole line that is not OTLP JSON (the Collector killed in
the middle of a line, then appending after it) is skipped, counted in
:attr:`OtlpFileTail.lines_skipped` and logged once per file: never the end of
the reading. A file shorter than what was read of it (truncated, or another
under the same inode) is read again from its start.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from traceproof.errors import SourceError, TraceNotFound
from traceproof.sources import gather, traces_data
from traceproof.spans import Span, from_otlp_json
from traceproof.window import MAX_SPANS, Window, hex_id, only, otlp_spans

#: Bytes read at once: a line longer than this is read in several.
CHUNK = 4 * 1024 * 1024

log = logging.getLogger("traceproof.file_tail")


@dataclass
class _Read:
    """How far one file (one device and inode) has been read."""

    offset: int = 0
    #: Whole lines read (to name a bad one), and whether a bad one was logged yet.
    lines: int = 0
    logged: bool = False


class OtlpFileTail:
    """Traces from the Collector's ``file`` exporter (``format: json``), a file or a folder with its rotations, tailed."""

    def __init__(
        self,
        path: str | Path,
        retention_s: float,
        max_spans: int = MAX_SPANS,
        now_ns: Callable[[], int] = time.time_ns,
        chunk: int = CHUNK,
    ) -> None:
        self.path = Path(path)
        self.retention_ns = round(retention_s * 1e9)
        self.max_spans = max_spans
        self.now_ns = now_ns
        self.chunk = chunk
        #: Spans let go because ``max_spans`` were held (not those past the retention), and whole lines skipped as not OTLP JSON.
        self.spans_dropped = 0
        self.lines_skipped = 0
        #: Bytes and lines parsed since start.
        self.bytes_read = 0
        self.lines_parsed = 0
        self._files: dict[tuple[int, int], _Read] = {}
        self._traces: dict[str, list[Span]] = {}
        self._last_end: dict[str, int] = {}
        self.span_count = 0

    # -- TraceSource ---------------------------------------------------------------

    def trace(self, trace_id: str) -> list[Span]:
        self.read()
        found = list(self._traces.get(trace_id, ()))
        if not found:
            raise TraceNotFound(f"{self.path} holds no span of trace {trace_id} (yet), or no more")
        return found

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        """What was appended since the last call read first; then the window from the spans held."""
        self.read()
        wanted = set(services) if services is not None else None
        inside = [
            spans
            for spans in self._traces.values()
            if any(start_ns <= s.start_ns <= end_ns and (wanted is None or s.service in wanted) for s in spans)
        ]
        return gather((s for spans in inside for s in spans), start_ns, end_ns, services, self.max_spans)

    def link(self, trace_id: str) -> str | None:
        return None

    def __str__(self) -> str:
        return f"the Collector's file {self.path}, tailed"

    # -- reading -----------------------------------------------------------------------

    def files(self) -> list[Path]:
        """The files in the order their spans were written: rotations (``traces-<time>.jsonl``) before ``traces.jsonl``."""
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file() and not p.name.startswith("."))
        if self.path.is_file():
            return [self.path]
        raise SourceError(f"{self.path} is neither a file nor a folder: give the path the Collector's file exporter writes")

    def read(self) -> None:
        """Read what every file gained since the last call, then let go of what is past the retention or the bound."""
        seen: set[tuple[int, int]] = set()
        for path in self.files():
            try:
                with path.open("rb") as file:
                    stat = os.fstat(file.fileno())
                    key = (stat.st_dev, stat.st_ino)
                    state = self._files.get(key)
                    if state is None or stat.st_size < state.offset:
                        if state is not None:
                            log.warning("%s is shorter than what was read of it: read again from its start", path)
                        state = self._files[key] = _Read()
                    seen.add(key)
                    self._read_file(path, file, state)
            except FileNotFoundError:
                continue  # rotated away (deleted) between the listing and the opening
        for gone in self._files.keys() - seen:  # deleted since (lumberjack's oldest): forgotten
            del self._files[gone]
        self._let_go()

    def _read_file(self, path: Path, file: BinaryIO, state: _Read) -> None:
        file.seek(state.offset)
        horizon = self.now_ns() - self.retention_ns
        pending = b""
        while True:
            data = file.read(self.chunk)
            if not data:
                return  # a partial line stays unread: the next call reads it whole
            pending += data
            end = pending.rfind(b"\n")
            if end < 0:
                continue
            whole, pending = pending[: end + 1], pending[end + 1 :]
            for line in whole.split(b"\n")[:-1]:
                state.lines += 1
                if line.strip():
                    self._parse(path, line, state, horizon)
                state.offset += len(line) + 1  # line by line: whatever is raised, nothing is read twice
                self.bytes_read += len(line) + 1
            self._let_go()  # a backlog read a chunk at a time holds no more than one chunk past the bound

    def _parse(self, path: Path, line: bytes, state: _Read, horizon: int) -> None:
        self.lines_parsed += 1
        try:
            batch = traces_data(line)
            # Spans ended before the retention, of traces not held (a backlog read at start): never made into spans.
            ids: set[str] = set()
            keep: set[str] = set()
            for _, _, raw in otlp_spans(batch):
                ids.add(trace_id := hex_id(raw["traceId"]))
                if trace_id in self._traces or int(raw.get("endTimeUnixNano", 0)) >= horizon:
                    keep.add(trace_id)
            spans = from_otlp_json(batch if keep == ids else only(batch, keep)) if keep else []
        except Exception as exc:  # not JSON, not OTLP's shape (ValueError, KeyError, ParseError...): the line alone
            self.lines_skipped += 1
            if not state.logged:
                state.logged = True
                log.warning(
                    "%s line %d is not OTLP JSON (%s): skipped, and so is any other bad line of this file, counted",
                    path,
                    state.lines,
                    str(exc)[:120],
                )
            return
        for span in spans:
            self._traces.setdefault(span.trace_id, []).append(span)
            self._last_end[span.trace_id] = max(span.end_ns, self._last_end.get(span.trace_id, span.end_ns))
        self.span_count += len(spans)

    def _let_go(self) -> None:
        """Drop the traces past the retention, then the earliest-ended ones while more than ``max_spans`` spans are held."""
        horizon = self.now_ns() - self.retention_ns
        for trace_id in [t for t, end in self._last_end.items() if end < horizon]:
            self._drop(trace_id)
        if self.span_count <= self.max_spans:
            return
        for trace_id in sorted(self._last_end, key=lambda t: (self._last_end[t], t)):
            if self.span_count <= self.max_spans:
                break
            self.spans_dropped += self._drop(trace_id)

    def _drop(self, trace_id: str) -> int:
        count = len(self._traces.pop(trace_id))
        del self._last_end[trace_id]
        self.span_count -= count
        return count
