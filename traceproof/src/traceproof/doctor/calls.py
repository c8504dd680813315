"""What a span says about the call it records, in the stable semantic conventions or the older ones.

The HTTP instrumentations write ``http.request.method``, ``url.full`` and
``server.address``/``server.port`` on a CLIENT span, ``url.path`` and
``client.address`` on a SERVER span (with ``OTEL_SEMCONV_STABILITY_OPT_IN=http``);
before that, and by default in many SDKs still, ``http.method``, ``http.url``,
``http.target`` and ``net.peer.ip``. A span that says neither has nothing to
match on, and the doctor says so rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from traceproof.spans import Span

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Request:
    """An HTTP request as both of its ends record it: method and path (no query)."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _text(attributes: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _method(attributes: dict[str, Any]) -> str | None:
    method = _text(attributes, "http.request.method", "http.method")
    if method == "_OTHER":
        method = _text(attributes, "http.request.method_original")
    return method.upper() if method else None


def request(span: Span) -> Request | None:
    """The method and path of an HTTP CLIENT or SERVER span, if it records them."""
    method = _method(span.attributes)
    if method is None:
        return None
    if span.kind == "client":
        url = _text(span.attributes, "url.full", "http.url")
        path = urlsplit(url).path if url else _text(span.attributes, "url.path", "http.target")
    else:
        path = _text(span.attributes, "url.path", "http.target")
        if path is None and (url := _text(span.attributes, "http.url")):
            path = urlsplit(url).path
    if path is None:
        return None
    return Request(method, path.split("?", 1)[0] or "/")


def route(span: Span) -> str | None:
    """What a SERVER span's requests are grouped by: its route template, else its path."""
    found = request(span)
    if found is None:
        return None
    return f"{found.method} {_text(span.attributes, 'http.route') or found.path}"


def endpoint(span: Span) -> str | None:
    """``host:port`` a CLIENT span called: ``server.address`` and ``server.port``, else its URL's."""
    attributes = span.attributes
    host = _text(attributes, "server.address", "net.peer.name")
    port = _text(attributes, "server.port", "net.peer.port")
    url = _text(attributes, "url.full", "http.url")
    if url:
        parts = urlsplit(url)
        host = host or parts.hostname
        port = port or str(parts.port or _DEFAULT_PORTS.get(parts.scheme) or "") or None
    if host is None:
        return None
    return f"{host}:{port}" if port else host


def caller_address(span: Span) -> str | None:
    """The address a SERVER span's request came from, as the server saw it."""
    return _text(span.attributes, "client.address", "network.peer.address", "net.sock.peer.addr", "net.peer.ip", "http.client_ip")


def user_agent(span: Span) -> str | None:
    """Who sent a SERVER span's request, as its ``User-Agent`` said (``python-httpx/0.28.1``, ``curl/8.5.0``)."""
    return _text(span.attributes, "user_agent.original", "http.user_agent")


def destination(span: Span) -> str | None:
    """The queue or topic a PRODUCER or CONSUMER span names."""
    return _text(span.attributes, "messaging.destination.name", "messaging.destination")
