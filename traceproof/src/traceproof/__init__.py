"""traceproof: find where distributed traces broke, and prove in a test that a request is one trace.

- ``traceproof doctor`` (:mod:`traceproof.cli`) judges a window of traces and
  names each broken edge, its kind, cause and fix.
- ``traceproof watch`` (:mod:`traceproof.watch`) judges window after window
  with the same rules and serves the counts to Prometheus.
- The pytest plugin (:mod:`traceproof.plugin`) gives tests the ``traces``
  fixture: ``traces.get(response, spans=4).assert_connected()``.
- Both read through a :class:`TraceSource`: Jaeger 2 or 1.x, the
  Collector's file exporter, or the spans of the test's own process.

It knows no particular service. Everything named in ``__all__`` is the public
API, kept compatible within a major version.

Names are imported when first used, so that ``import traceproof.plugin``
(which pytest does in every run) costs nothing until a test asks for traces.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from traceproof.doctor import Diagnosis, diagnose
    from traceproof.errors import SourceError, TraceNotFound, WindowTooLarge
    from traceproof.file_tail import OtlpFileTail
    from traceproof.jaeger import JaegerClient, JaegerError, JaegerUnreachable
    from traceproof.sources import JaegerSource, MemorySource, OtlpFileSource, TraceSource, open_source
    from traceproof.spans import Event, Span, from_otlp_json, from_sdk
    from traceproof.trace import Trace, TraceSpan
    from traceproof.traces import Traces
    from traceproof.watch import Watcher
    from traceproof.watch_metrics import WatchMetrics
    from traceproof.window import Window

__version__ = "0.4.0"

__all__ = [
    "Diagnosis",
    "Event",
    "JaegerClient",
    "JaegerError",
    "JaegerSource",
    "JaegerUnreachable",
    "MemorySource",
    "OtlpFileSource",
    "OtlpFileTail",
    "SourceError",
    "Span",
    "Trace",
    "TraceNotFound",
    "TraceSource",
    "TraceSpan",
    "Traces",
    "WatchMetrics",
    "Watcher",
    "Window",
    "WindowTooLarge",
    "__version__",
    "diagnose",
    "from_otlp_json",
    "from_sdk",
    "open_source",
]

_HOME = {
    "Diagnosis": "doctor",
    "diagnose": "doctor",
    "SourceError": "errors",
    "TraceNotFound": "errors",
    "WindowTooLarge": "errors",
    "OtlpFileTail": "file_tail",
    "JaegerClient": "jaeger",
    "JaegerError": "jaeger",
    "JaegerUnreachable": "jaeger",
    "JaegerSource": "sources",
    "MemorySource": "sources",
    "OtlpFileSource": "sources",
    "TraceSource": "sources",
    "open_source": "sources",
    "Event": "spans",
    "Span": "spans",
    "from_otlp_json": "spans",
    "from_sdk": "spans",
    "Trace": "trace",
    "TraceSpan": "trace",
    "Traces": "traces",
    "Watcher": "watch",
    "WatchMetrics": "watch_metrics",
    "Window": "window",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'traceproof' has no attribute {name!r}")
    return getattr(import_module(f"traceproof.{home}"), name)
