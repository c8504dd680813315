"""What the API clients (Jaeger's, Prometheus's) share: one httpx connection pool to one base URL, closed with the client.

A deployment's Jaeger may sit behind a path prefix (``https://host/jaeger``),
authentication (``headers``) and TLS signed by a private CA (``ca_file``):
the base URL keeps its path, and every request carries the headers.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import httpx

from traceproof.errors import SourceError


def tls_context(ca_file: str | Path | None) -> ssl.SSLContext | bool:
    """The system's trust store, plus ``ca_file`` (PEM) when given; a missing or unreadable file is a SourceError."""
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise SourceError(f"the CA file {ca_file} cannot be read as PEM certificates ({exc})") from None


class ApiClient:
    """An HTTP API at ``url``; a ``with`` block closes its connections."""

    def __init__(
        self,
        url: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        ca_file: str | Path | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, timeout=timeout_s, transport=transport, headers=dict(headers or {}), verify=tls_context(ca_file)
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
