"""An HTTP server on a free loopback port that answers each request with what a function makes of it:
the one under the tests' fake APIs (Jaeger's JSON here; the project's tests add an OTLP receiver and a stand-in service)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit


class Request(NamedTuple):
    """What the server was asked: ``GET /path?a=1``, with its headers (names in lower case) and body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        """The query parameters, the first of each."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}


#: What the server answers: (status, content type, body).
Reply = tuple[int, str, bytes]

#: What a JsonServer answers a GET with: (status, body) for (path, query parameters, the first of each).
Answer = Callable[[str, dict[str, str]], tuple[int, Any]]


def json_reply(status: int, body: Any) -> Reply:
    return status, "application/json", json.dumps(body).encode()


class LoopbackServer:
    """Answers each GET and POST with ``handle(request)`` on ``port`` (or a free one), from :meth:`start` to :meth:`stop`."""

    def __init__(self, handle: Callable[[Request], Reply], protocol: str = "HTTP/1.0", port: int = 0) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, content_type, payload = handle(Request(self.command, self.path, headers, body))
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = serve  # noqa: N815 (http.server's naming)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JsonServer(LoopbackServer):
    """Answers each GET with ``answer(path, query)`` as JSON."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(lambda request: json_reply(*answer(request.path, request.query)))
