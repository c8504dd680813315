"""What ``traceproof watch`` serves over HTTP: ``/metrics``, ``/breaks`` and ``/healthz``.

- ``/metrics``: every counter and gauge, in Prometheus's text format.
- ``/breaks``: the most recent breaks (at most ``--recent``), newest first, as
  JSON: ``{"breaks": [{kind, service, peer, trace_ids, links, evidence,
  started, judged}, ...]}``; ``?limit=N`` for fewer.
- ``/healthz``: 503 until the first window was attempted (judged, or failed
  to be read: a source that is down is the metrics' news, not a reason to
  restart the watcher), 200 after, with the end of the latest judged window
  and the lag.

The standard library's threading server: scrapes and the loop never wait
for each other (the registry and the ring are thread-safe).
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from traceproof.watch import Watcher, iso_time
from traceproof.watch_metrics import CONTENT_TYPE


def serve(watcher: Watcher, host: str, port: int) -> ThreadingHTTPServer:
    """A server for ``watcher`` bound to ``host:port`` (port 0: any free one, ``server_address`` says which); not yet serving."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path == "/metrics":
                self._send(200, CONTENT_TYPE, watcher.metrics.exposition())
            elif url.path == "/breaks":
                limit = _limit(parse_qs(url.query).get("limit"))
                if limit is None:
                    self._json(400, {"error": "limit must be a whole number, as in /breaks?limit=10"})
                    return
                self._json(200, {"breaks": [b.as_json() for b in watcher.recent(limit if limit >= 0 else None)]})
            elif url.path == "/healthz":
                if not watcher.attempted.is_set():
                    self._json(503, {"status": "starting", "why": "no window attempted yet"})
                    return
                end = watcher.last_end_ns
                last = iso_time(end) if end is not None else None
                self._json(200, {"status": "ok", "last_window_end": last, "lag_s": round(watcher.lag_s, 3)})
            else:
                self._json(404, {"error": "not found: /metrics, /breaks or /healthz"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, "application/json", json.dumps(body).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
            pass  # a scrape every few seconds is not news

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def _limit(given: list[str] | None) -> int | None:
    """``?limit=N`` as a number (-1, every one, when absent), or None when it is not one."""
    if not given:
        return -1
    try:
        return max(0, int(given[0]))
    except ValueError:
        return None
