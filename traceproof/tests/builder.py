"""Constructed windows of traces, written the way one tells them: a request, the call it makes, who served it.

Times are in milliseconds from the window's start and every id is counted,
so a test's spans are the same on every run and on any machine. The HTTP
attributes are those the stable conventions put on real spans (checked
against the real services in test_real_services.py).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import count
from typing import Any

from traceproof.spans import Span, by_trace

#: The window's first instant: 2023-11-14 22:13:20 UTC.
EPOCH_NS = 1_700_000_000 * 1_000_000_000

CHECKOUT_ADDRESS = "10.0.0.7"
INVENTORY = "inventory:8081"
#: Where the person at the host, the load generator and the probes call from: no service's address.
OUTSIDE_ADDRESS = "10.0.0.1"


def ns(ms: float) -> int:
    return EPOCH_NS + round(ms * 1_000_000)


class Window:
    """Spans of a made-up window, built call by call."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._traces = count(1)
        self._span_ids = count(1)

    def traces(self) -> dict[str, list[Span]]:
        return by_trace(self.spans)

    def span(
        self,
        service: str,
        kind: str,
        name: str,
        start_ms: float,
        end_ms: float,
        parent: Span | None = None,
        links: list[Span] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """A span of its own trace (a root), or a child of ``parent`` in the parent's."""
        span = Span(
            trace_id=parent.trace_id if parent else f"{next(self._traces):032x}",
            span_id=f"{next(self._span_ids):016x}",
            parent_id=parent.span_id if parent else None,
            name=name,
            kind=kind,
            service=service,
            status="unset",
            status_message="",
            attributes=attributes or {},
            links=[(s.trace_id, s.span_id) for s in links or ()],
            start_ns=ns(start_ms),
            end_ns=ns(end_ms),
        )
        self.spans.append(span)
        return span

    def lost_parent(self, span: Span) -> Span:
        """The same span, as if its parent had never arrived: it names a parent the window does not hold."""
        self.spans.remove(span)
        orphan = replace(span, parent_id=f"{next(self._span_ids):016x}")
        self.spans.append(orphan)
        return orphan

    # -- HTTP -------------------------------------------------------------------

    def request(
        self,
        service: str,
        method: str,
        path: str,
        start_ms: float,
        end_ms: float,
        address: str | None = OUTSIDE_ADDRESS,
        parent: Span | None = None,
        route: str | None = None,
        user_agent: str | None = None,
    ) -> Span:
        """A SERVER span: a request ``service`` served, from ``address`` (by ``user_agent``), continuing ``parent`` if given."""
        attributes: dict[str, Any] = {"http.request.method": method, "url.path": path, "url.scheme": "http"}
        if address is not None:
            attributes["client.address"] = address
        if user_agent is not None:
            attributes["user_agent.original"] = user_agent
        if route is not None:
            attributes["http.route"] = route
        return self.span(service, "server", f"{method} {route or path}", start_ms, end_ms, parent, attributes=attributes)

    def call(self, parent: Span | None, service: str, method: str, url: str, start_ms: float, end_ms: float) -> Span:
        """A CLIENT span of ``service`` (a child of ``parent``, or a root when it is None)."""
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        attributes: dict[str, Any] = {"http.request.method": method, "url.full": url, "server.address": host}
        if port:
            attributes["server.port"] = int(port)
        return self.span(service, "client", method, start_ms, end_ms, parent, attributes=attributes)

    def work(
        self, service: str, name: str, start_ms: float, end_ms: float, parent: Span | None = None, **attributes: Any
    ) -> Span:
        """An INTERNAL span (a root when ``parent`` is None)."""
        return self.span(service, "internal", name, start_ms, end_ms, parent, **attributes)

    # -- the usual story: checkout serves an order and asks inventory ------------------

    def order(
        self, start_ms: float, *, stock_call: str = "connected", path: str = "/stock/1", address: str = OUTSIDE_ADDRESS
    ) -> Span:
        """checkout's POST /checkout over 100 ms; from 10 to 30 ms in, it asks inventory for ``path``.

        ``stock_call`` says how the call goes: ``connected`` (CLIENT span, inventory's SERVER
        span its child), ``unanswered`` (a CLIENT span and no answer in any trace),
        ``not_propagated`` (a CLIENT span, and inventory's SERVER span a root of its own),
        ``no_client_span`` (no CLIENT span, inventory's SERVER span a root), or ``none``.
        """
        served = self.request("checkout", "POST", "/checkout", start_ms, start_ms + 100, address=address)
        url = f"http://{INVENTORY}{path}"
        at, until = start_ms + 10, start_ms + 30
        if stock_call == "connected":
            client = self.call(served, "checkout", "GET", url, at, until)
            self.request("inventory", "GET", path, at + 2, until - 2, address=CHECKOUT_ADDRESS, parent=client)
        elif stock_call == "unanswered":
            self.call(served, "checkout", "GET", url, at, until)
        elif stock_call == "not_propagated":
            self.call(served, "checkout", "GET", url, at, until)
            self.request("inventory", "GET", path, at + 2, until - 2, address=CHECKOUT_ADDRESS)
        elif stock_call == "no_client_span":
            self.request("inventory", "GET", path, at + 2, until - 2, address=CHECKOUT_ADDRESS)
        else:
            assert stock_call == "none", stock_call
        return served

    # -- messages -------------------------------------------------------------------

    def publish(self, parent: Span, queue: str, start_ms: float, end_ms: float) -> Span:
        attributes = {"messaging.destination.name": queue, "messaging.operation.type": "send"}
        return self.span(parent.service, "producer", f"publish {queue}", start_ms, end_ms, parent, attributes=attributes)

    def consume(self, service: str, queue: str, start_ms: float, end_ms: float, parent: Span | None = None) -> Span:
        attributes = {"messaging.destination.name": queue, "messaging.operation.type": "process"}
        return self.span(service, "consumer", f"process {queue}", start_ms, end_ms, parent, attributes=attributes)
