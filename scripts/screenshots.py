"""The walkthrough's pictures of the Jaeger UI (README and docs/walkthrough.md), taken from a real run: ``make screenshots``.

Places the walkthrough's failing order (``fault-crash``) with the running
stack, waits until Jaeger has its whole trace, and pictures what the walkthrough
tells a person to look at, with the same page model the UI tests use
(harness/jaeger_ui.py): the trace view, inventory's span with its
exception, checkout's span with its log line, the search by ``error=true``, and
the Monitor tab for inventory after a short load whose mix includes crashes;
then a real crash (``fault-kill``), its trace once inventory's next run has
sent the span the kill cut short.

    python -m scripts.screenshots docs/img
"""

from __future__ import annotations

import argparse
import asyncio
import io
from pathlib import Path

import httpx
from rich.console import Console

from explore.load import parse_mix, run
from harness.jaeger_ui import VIEWPORT, JaegerUI, chromium
from traceproof.jaeger import JaegerClient

CHECKOUT_URL = "http://127.0.0.1:8080"
JAEGER_URL = "http://localhost:16686"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the PNGs")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)

    # The walkthrough's `make load`, two minutes of it: a few points on each of the Monitor tab's graphs.
    # (Before the browser starts: Playwright's sync API holds the thread's event loop.)
    mix = parse_mix("item-123=80,sold-out=10,fault-crash=10")
    asyncio.run(run(CHECKOUT_URL, 120.0, 10.0, mix, 50, 10.0, 1, Console(file=io.StringIO())))

    response = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "fault-crash"}, timeout=10)
    body = response.json()
    if response.status_code != 502:
        raise SystemExit(f"expected the crash's 502 from checkout, got {response.status_code}: {body}")
    JaegerClient(JAEGER_URL).wait_for(body["trace_id"], lambda spans: len(spans) == 3)

    # A real crash (fault-kill: inventory SIGKILLs itself mid-reservation). Its next run sends the span the
    # kill cut short; checkout's release of the reservation is retried until inventory answers again.
    killed = httpx.post(f"{CHECKOUT_URL}/checkout", json={"sku": "fault-kill"}, timeout=10)
    kill_body = killed.json()
    if killed.status_code != 503:
        raise SystemExit(f"expected fault-kill's 503 from checkout, got {killed.status_code}: {kill_body}")
    JaegerClient(JAEGER_URL).wait_for(
        kill_body["trace_id"],
        lambda spans: (
            {"POST /reservations", "DELETE /reservations/{reservation_id}"} <= {s.name for s in spans if s.service == "inventory"}
        ),
        timeout_s=120,  # inventory's restart (Docker's, then its health check) and its journal's recovery first
    )

    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        ui = JaegerUI(page, JAEGER_URL)

        view = ui.open_trace(body["trace_url"])
        page.screenshot(path=out / "trace-view.png")

        detail = view.open_span("inventory", "GET /stock/{sku}")
        detail.show_event("exception")
        # The event's table scrolls by itself: show the stack trace's end, where it was raised.
        detail.root.locator(".AccordianLogs .KeyValueTable").evaluate("table => { table.scrollTop = table.scrollHeight; }")
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 1040})
        page.screenshot(path=out / "span-exception.png")
        page.set_viewport_size(VIEWPORT)

        # checkout's "answered 502" log line, an event of the span it was logged in.
        view.open_span("checkout", "POST /checkout").show_event_starting("POST /checkout answered 502")
        page.screenshot(path=out / "span-log-line.png")

        ui.search(service="checkout", tags="error=true")
        page.screenshot(path=out / "search.png")
        monitor = ui.monitor("inventory")
        monitor.wait_for_operation("GET /stock/{sku}", lambda op: op.error_rate not in ("", "0%"), timeout_s=60)
        monitor.over_the_last("Last 5 minutes")
        page.mouse.move(VIEWPORT["width"] - 10, VIEWPORT["height"] - 10)  # no tooltip over the graphs
        page.screenshot(path=out / "monitor.png")

        view = ui.open_trace(kill_body["trace_url"])
        view.open_span("inventory", "POST /reservations")
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 1040})
        page.screenshot(path=out / "trace-kill.png")
        page.set_viewport_size(VIEWPORT)
    for name in ("trace-view.png", "span-exception.png", "span-log-line.png", "search.png", "monitor.png", "trace-kill.png"):
        print(out / name)
    print(f"trace {body['trace_id']}: {body['trace_url']}")


if __name__ == "__main__":
    main()
