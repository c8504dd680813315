"""Where traces are read back from, behind one protocol: Jaeger (2 or 1.x), the Collector's file exporter, the test's own process.

The doctor and the ``traces`` fixture ask a :class:`TraceSource` for one
trace by id and for every trace of a time window; :func:`open_source` makes
the one the CLI's options or the plugin's ask for. Another backend (Grafana
Tempo, say, whose ``/api/traces/<id>`` and ``/api/search`` answer OTLP) is a
class with these three methods: docs/your-own-services.md shows one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

from google.protobuf import json_format
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from traceproof.errors import SourceError, TraceNotFound
from traceproof.jaeger import Api, JaegerClient
from traceproof.spans import Span, by_trace, from_otlp_json, from_sdk
from traceproof.window import MAX_SPANS, PAGE_SIZE, Window, WindowReader, check_count, hex_id, only, otlp_spans

#: The environment variable that holds request headers for Jaeger, as OTEL_EXPORTER_OTLP_HEADERS does: ``k=v,k2=v2``.
HEADERS_VARIABLE = "TRACEPROOF_HEADERS"


class TraceSource(Protocol):
    """Where traces are read back from."""

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of the trace so far; TraceNotFound when there is none."""
        ...

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        """Every trace with a span that started in ``[start_ns, end_ns]`` (of one of ``services``, when given)."""
        ...

    def link(self, trace_id: str) -> str | None:
        """Where a person sees the trace, if anywhere."""
        ...


def gather(spans: Iterable[Span], start_ns: int, end_ns: int, services: Sequence[str] | None, max_spans: int) -> Window:
    """The window's traces out of spans held in hand (a file's, a process's): the same answer Jaeger's search gives.

    Every span gathered counts against ``max_spans``, not only the window's:
    they are all held until the last one says which traces the window has.
    """
    inside: set[str] = set()
    wanted = set(services) if services is not None else None

    def held() -> Iterator[Span]:
        for count, span in enumerate(spans, 1):
            check_count(count, max_spans)
            if start_ns <= span.start_ns <= end_ns and (wanted is None or span.service in wanted):
                inside.add(span.trace_id)
            yield span

    traces = by_trace(held())
    window = Window(start_ns, end_ns, {trace_id: traces[trace_id] for trace_id in inside})
    window.services = sorted({s.service for spans in window.traces.values() for s in spans})
    return window


class JaegerSource:
    """Traces from Jaeger's query API: v3 (Jaeger 2) or v1 (Jaeger 1.x), as the client finds."""

    def __init__(self, client: JaegerClient, page_size: int = PAGE_SIZE, max_spans: int = MAX_SPANS) -> None:
        self.client = client
        self.page_size = page_size
        self.max_spans = max_spans

    def trace(self, trace_id: str) -> list[Span]:
        return self.client.trace(trace_id)

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        return WindowReader(self.client, self.page_size, self.max_spans).read(start_ns, end_ns, services)

    def link(self, trace_id: str) -> str | None:
        return self.client.ui_link(trace_id)

    def __str__(self) -> str:
        return f"Jaeger at {self.client.url}"


class MemorySource:
    """Traces from spans this process holds: an SDK ``InMemorySpanExporter`` (:meth:`of`), an OTLP sink."""

    def __init__(self, spans: Callable[[], Iterable[Span]], max_spans: int = MAX_SPANS) -> None:
        self.spans = spans
        self.max_spans = max_spans

    @classmethod
    def of(cls, exporter: InMemorySpanExporter) -> MemorySource:
        """The spans the SDK has finished into ``exporter`` (with a ``SimpleSpanProcessor``, at once)."""
        return cls(lambda: from_sdk(exporter.get_finished_spans()))

    def trace(self, trace_id: str) -> list[Span]:
        found = [s for s in self.spans() if s.trace_id == trace_id]
        if not found:
            raise TraceNotFound(f"no span of trace {trace_id} has been exported here (yet)")
        return found

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        return gather(self.spans(), start_ns, end_ns, services, self.max_spans)

    def link(self, trace_id: str) -> str | None:
        return None

    def __str__(self) -> str:
        return "the spans exported to this process"


class OtlpFileSource:
    """Traces from the OpenTelemetry Collector's ``file`` exporter (``format: json``): a file, or a folder with its rotations.

    Each line is one OTLP JSON ``TracesData``. The last line of a file may be
    in the middle of being written; it is read once it is whole. Any other
    line that is not OTLP JSON is an error that names the file and the line.
    """

    def __init__(self, path: str | Path, max_spans: int = MAX_SPANS) -> None:
        self.path = Path(path)
        self.max_spans = max_spans

    def files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.is_file() and not p.name.startswith("."))
        if self.path.is_file():
            return [self.path]
        raise SourceError(f"{self.path} is neither a file nor a folder: give the path the Collector's file exporter writes")

    def _batches(self, containing: bytes | None = None) -> Iterator[dict[str, Any]]:
        """Each line's ``TracesData``, or each that holds ``containing`` (a trace id, as the exporter writes it)."""
        for path in self.files():
            with path.open("rb") as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip() or (containing is not None and containing not in line):
                        continue
                    try:
                        batch = traces_data(line)
                    except (ValueError, TypeError, AttributeError, KeyError) as exc:
                        if not line.endswith(b"\n"):
                            continue  # the line the exporter is writing now
                        raise SourceError(
                            f"{path} line {number} is not OTLP JSON ({str(exc)[:120]}): is it what the Collector's file "
                            "exporter writes with `format: json`?"
                        ) from None
                    yield batch

    def _read(self, batch: dict[str, Any]) -> list[Span]:
        try:
            return from_otlp_json(batch)
        except json_format.ParseError as exc:
            raise SourceError(f"{self.path} holds a batch that is not OTLP JSON ({str(exc)[:120]})") from None

    def trace(self, trace_id: str) -> list[Span]:
        wanted = {trace_id}
        found = [s for batch in self._batches(trace_id.encode()) for s in self._read(only(batch, wanted))]
        if not found:
            raise TraceNotFound(f"{self.path} holds no span of trace {trace_id} (yet)")
        return found

    def window(self, start_ns: int, end_ns: int, services: Sequence[str] | None = None) -> Window:
        """Read twice: once for the ids of the window's traces (JSON only), then for their spans alone.

        So memory holds the window's spans and no more, however much else the
        files hold; the costly step (OTLP JSON into spans) is spent on them only.
        """
        wanted = set(services) if services is not None else None
        inside: set[str] = set()
        for batch in self._batches():
            for rs, _, span in otlp_spans(batch):
                if start_ns <= int(span.get("startTimeUnixNano", 0)) <= end_ns and (wanted is None or _service_of(rs) in wanted):
                    inside.add(hex_id(span["traceId"]))
        spans = (s for batch in self._batches() for s in self._read(only(batch, inside)))
        return gather(spans, start_ns, end_ns, services, self.max_spans)

    def link(self, trace_id: str) -> str | None:
        return None

    def __str__(self) -> str:
        return f"the Collector's file {self.path}"


def traces_data(line: bytes) -> dict[str, Any]:
    """One line as OTLP JSON ``TracesData``, each span with the trace id and start the reading relies on; else an error."""
    batch = json.loads(line)
    if not isinstance(batch, dict) or not isinstance(batch.get("resourceSpans"), list):
        raise ValueError("no resourceSpans")
    for _, _, span in otlp_spans(batch):
        hex_id(span["traceId"])
        int(span.get("startTimeUnixNano", 0))
    return batch


def _service_of(resource_spans: dict[str, Any]) -> str:
    """``service.name`` of one ``resourceSpans`` entry of OTLP JSON."""
    for attribute in (resource_spans.get("resource") or {}).get("attributes") or []:
        if attribute.get("key") == "service.name":
            return str((attribute.get("value") or {}).get("stringValue", ""))
    return ""


def parse_headers(given: Sequence[str] = (), environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Request headers: ``TRACEPROOF_HEADERS`` (``k=v,k2=v2``, URL-encoded), then ``--jaeger-header 'Name: value'`` options."""
    headers: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in environ.get(HEADERS_VARIABLE, "").split(","))):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise SourceError(f"{HEADERS_VARIABLE} holds an entry that is not name=value (entries are comma-separated)")
        headers[unquote(name.strip())] = unquote(value.strip())
    for header in given:
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise SourceError("a --jaeger-header is not 'Name: value' (its value is not shown here)")
        headers[name.strip()] = value.strip()
    return headers


@contextmanager
def open_source(
    jaeger: str | None = None,
    otlp_file: str | Path | None = None,
    *,
    api: Api = "auto",
    headers: Mapping[str, str] | None = None,
    ca_file: str | Path | None = None,
    page_size: int = PAGE_SIZE,
    max_spans: int = MAX_SPANS,
    timeout_s: float = 10.0,
) -> Iterator[TraceSource]:
    """The Collector's file at ``otlp_file`` when given, else Jaeger at ``jaeger`` (JAEGER_URL, localhost:16686)."""
    if otlp_file is not None:
        yield OtlpFileSource(otlp_file, max_spans)
        return
    with JaegerClient(jaeger, timeout_s, api=api, headers=headers, ca_file=ca_file) as client:
        yield JaegerSource(client, page_size, max_spans)
