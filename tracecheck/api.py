"""What the API clients (Jaeger's, Prometheus's) share: one httpx connection pool to one base URL, closed with the client."""

from __future__ import annotations

from typing import Self

import httpx


class ApiClient:
    """An HTTP API at ``url``; a ``with`` block closes its connections."""

    def __init__(self, url: str, timeout_s: float, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
