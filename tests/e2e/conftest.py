"""The end-to-end fixtures: the docker compose stack, as people run it.

These tests need the stack up (``make e2e`` starts it); they talk to it over
HTTP only, read traces from Jaeger's API and logs from ``docker compose logs``.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from explore.logs import LogLine, LogsUnavailable, from_compose, of_trace
from harness.jaeger_ui import VIEWPORT, JaegerUI, PageWatch, chromium
from harness.span_counts import settled_span_calls
from shoptrace.services import SERVICES
from tests.conftest import InventoryTimings
from tests.support.load import CHECKOUT_URL
from tests.support.processes import ROOT, parse_log_lines
from traceproof.jaeger import JaegerClient
from traceproof.prometheus import CountKey, PrometheusClient, SpanCounts
from traceproof.sources import JaegerSource, TraceSource
from traceproof.traces import Logs

INVENTORY_URL = "http://127.0.0.1:8081"
JAEGER_URL = "http://127.0.0.1:16686"
PROMETHEUS_URL = "http://127.0.0.1:9090"
SERVICE_NAMES = tuple(s.name for s in SERVICES)

#: The connector flushes every 5 s and Prometheus scrapes every 5 s: a count that
#: has not moved for this long has taken in every span sent before it, unless one
#: was late on its way (a test that knows what is coming passes ``at_least``).
QUIET_S = 12.0
#: The longest wait for the counts to settle: only a pipeline that lost its way takes this long.
SETTLE_WITHIN_S = 90.0


def quiet_counts(
    prometheus: PrometheusClient, at_least: Mapping[CountKey, int] | None = None, since: SpanCounts | None = None
) -> SpanCounts:
    """The connector's span counts once they have grown by ``at_least`` ``since`` an earlier reading (if given)
    and held still for QUIET_S."""
    return settled_span_calls(prometheus, SERVICE_NAMES, QUIET_S, SETTLE_WITHIN_S, at_least, since)


def compose(*args: str, timeout_s: float = 120, env: Mapping[str, str] | None = None) -> str:
    """``docker compose *args`` at the repository's root; ``env`` adds to the environment compose reads."""
    result = subprocess.run(
        ["docker", "compose", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
        env={**os.environ, **env} if env else None,
    )
    return result.stdout


class ComposeService:
    """A service of the stack: its published URL and its container's log."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self._url = url

    @property
    def url(self) -> str:
        return self._url

    def _lines(self) -> list[str]:
        return [line for line in compose("logs", "--no-color", "--no-log-prefix", self.name).splitlines() if line.strip()]

    def logs(self) -> list[dict[str, Any]]:
        return parse_log_lines(self._lines())

    def logs_of(self, trace_id: str) -> list[dict[str, Any]]:
        return [r for r in self.logs() if r.get("trace_id") == trace_id]

    def stderr_text(self) -> str:
        """compose merges stdout and stderr; any non-JSON line would have failed logs()."""
        return "\n".join(line for line in self._lines() if not line.startswith("{"))


@pytest.fixture(scope="session", autouse=True)
def stack_is_up() -> None:
    for name, url in (("checkout", f"{CHECKOUT_URL}/readyz"), ("jaeger", f"{JAEGER_URL}/")):
        try:
            httpx.get(url, timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            pytest.fail(f"the compose stack is not up ({name}: {exc}); run `make e2e`, which starts it")


@pytest.fixture(scope="session")
def jaeger() -> JaegerClient:
    return JaegerClient(JAEGER_URL)


@pytest.fixture(scope="session")
def trace_source(jaeger: JaegerClient) -> TraceSource:
    """The plugin's ``traces`` read the stack's Jaeger (the plugin's own default is localhost)."""
    return JaegerSource(jaeger)


@pytest.fixture(scope="session")
def trace_logs() -> Logs:
    """A failed trace assertion shows the stack's log lines of that trace."""

    def lines(trace_id: str) -> tuple[list[LogLine] | None, str]:
        try:
            return of_trace(from_compose(cwd=ROOT), trace_id), "from docker compose logs"
        except LogsUnavailable as exc:
            return None, str(exc)

    return lines


@pytest.fixture(scope="session")
def prometheus() -> Iterator[PrometheusClient]:
    with PrometheusClient(PROMETHEUS_URL) as client:
        yield client


@pytest.fixture(scope="session")
def checkout() -> ComposeService:
    return ComposeService("checkout", CHECKOUT_URL)


@pytest.fixture(scope="session")
def inventory() -> ComposeService:
    return ComposeService("inventory", INVENTORY_URL)


@pytest.fixture(scope="session")
def jaeger_ui_url() -> str:
    return "http://localhost:16686"


@pytest.fixture(scope="session")
def timings() -> InventoryTimings:
    """The stack runs with the services' defaults (docker-compose.yml sets neither)."""
    return InventoryTimings(inventory_timeout_s=2.0, inventory_slow_s=5.0)


#: Where each browser test leaves its last screenshot (git ignores build/).
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def ui(browser: Browser, request: pytest.FixtureRequest) -> Iterator[JaegerUI]:
    """A fresh page on the stack's Jaeger UI; afterwards a screenshot, and no page may have misbehaved."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(15_000)  # each step; the UI renders in well under a second
    watch = PageWatch()
    watch.attach(page)
    try:
        yield JaegerUI(page, JAEGER_URL)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_]+', '_', request.node.name)}.png")
    finally:
        page.close()
    assert not watch.problems, "the Jaeger UI's pages misbehaved:\n" + "\n".join(watch.problems)
